import test from 'ava';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStages, stageOrder, type Stage } from '../../harness/softlab/stages.ts';

async function dirs() {
  const root = await mkdtemp(join(tmpdir(), 'vb-stages-'));
  return { root, stampsDir: join(root, 'stamps'), logsDir: join(root, 'logs') };
}

function recordingStage(name: string, after: string[], key: string, runs: string[], out: string): Stage {
  return {
    name,
    description: `writes ${name}`,
    after,
    key,
    outputs: [out],
    run: async (ctx) => {
      runs.push(name);
      await ctx.exec(['sh', '-c', 'echo "$1" > "$2"', 'sh', name, out]);
    },
  };
}

test('stages run after their dependencies, are cached by key, and a rebuilt stage rebuilds its dependents', async (t) => {
  const d = await dirs();
  const runs: string[] = [];
  const lines: string[] = [];
  const make = (keyB: string) => [
    recordingStage('c', ['a', 'b'], 'kc', runs, join(d.root, 'c')),
    recordingStage('a', [], 'ka', runs, join(d.root, 'a')),
    recordingStage('b', [], keyB, runs, join(d.root, 'b')),
  ];
  const first = await runStages(make('kb'), { ...d, print: (l) => lines.push(l) });
  t.deepEqual(runs.slice(-1), ['c']);
  // a and b have no dependency between them and run side by side: their order is not fixed
  t.deepEqual([...runs].sort(), ['a', 'b', 'c']);
  t.true(first.every((s) => !s.cached && s.seconds >= 0));
  t.is((await readFile(join(d.root, 'c'), 'utf8')).trim(), 'c');

  runs.length = 0;
  const second = await runStages(make('kb'), { ...d, print: (l) => lines.push(l) });
  t.deepEqual(runs, []);
  t.true(second.every((s) => s.cached));

  runs.length = 0;
  await runStages(make('kb2'), { ...d, print: (l) => lines.push(l) });
  t.deepEqual(runs.sort(), ['b', 'c']);
});

test('a cached stage whose output disappeared is rebuilt', async (t) => {
  const d = await dirs();
  const runs: string[] = [];
  const stage = recordingStage('a', [], 'k', runs, join(d.root, 'a'));
  await runStages([stage], { ...d, print: () => {} });
  await import('node:fs/promises').then((fs) => fs.rm(join(d.root, 'a')));
  await runStages([stage], { ...d, print: () => {} });
  t.deepEqual(runs, ['a', 'a']);
});

test('a large output counts as present without being read (a 6G sparse image)', async (t) => {
  const d = await dirs();
  const image = join(d.root, 'big.img');
  await import('node:fs/promises').then((fs) =>
    fs.open(image, 'w').then(async (h) => {
      await h.truncate(3 * 1024 ** 3);
      await h.close();
    }),
  );
  const runs: string[] = [];
  const stage: Stage = {
    name: 'img',
    description: '',
    after: [],
    key: 'k',
    outputs: [image],
    run: async () => {
      runs.push('img');
    },
  };
  await runStages([stage], { ...d, print: () => {} });
  await runStages([stage], { ...d, print: () => {} });
  t.deepEqual(runs, ['img']);
});

test('a failing command names the stage, the command, its last output and the log; no stamp is written', async (t) => {
  const d = await dirs();
  const lines: string[] = [];
  const failing: Stage = {
    name: 'boom',
    description: 'fails',
    after: [],
    key: 'k',
    run: (ctx) => ctx.exec(['sh', '-c', 'echo step one; echo "it broke" >&2; exit 7']).then(() => undefined),
  };
  const dependent: Stage = { name: 'later', description: 'never runs', after: ['boom'], key: 'k', run: async () => t.fail('dependent ran') };
  const error = await t.throwsAsync(runStages([failing, dependent], { ...d, print: (l) => lines.push(l) }));
  t.regex(error!.message, /stage boom: .*exit 7/);
  t.regex(error!.message, /it broke/);
  t.regex(error!.message, /full log: .*boom\.log/);
  t.true(lines.some((l) => l.startsWith('✗ boom failed')));
  await t.throwsAsync(readFile(join(d.stampsDir, 'boom'), 'utf8'));
  t.regex(await readFile(join(d.logsDir, 'boom.log'), 'utf8'), /step one/);
});

test('stage order rejects unknown dependencies and cycles', (t) => {
  const s = (name: string, after: string[]): Stage => ({ name, description: '', after, key: '', run: async () => {} });
  t.throws(() => stageOrder([s('a', ['nope'])]), { message: /unknown stage nope/ });
  t.throws(() => stageOrder([s('a', ['b']), s('b', ['a'])]), { message: /cycle/ });
  t.deepEqual(
    stageOrder([s('b', ['a']), s('a', [])]).map((x) => x.name),
    ['a', 'b'],
  );
});

test('stage keys survive a round trip through the stamp file byte for byte', async (t) => {
  const d = await dirs();
  const key = 'κ\nwith newline';
  await runStages([{ name: 'k', description: '', after: [], key, run: async () => {} }], { ...d, print: () => {} });
  t.is(await readFile(join(d.stampsDir, 'k'), 'utf8'), key);
  await writeFile(join(d.stampsDir, 'k'), 'other');
  const again = await runStages([{ name: 'k', description: '', after: [], key, run: async () => {} }], { ...d, print: () => {} });
  t.false(again[0].cached);
});
