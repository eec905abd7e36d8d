/** The compiled CLI (dist/, built by npm ci) gives the same answers as the TypeScript, and a stale one is never run. */
import test from 'ava';
import { execa } from 'execa';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './helpers/cli.ts';
import type { DowntimeJson } from '../harness/cli/downtime-command.ts';
import { parseJson } from './helpers/json.ts';

const legacy = (t: number, event: string, args: string) => `4242@${(t / 1e6).toFixed(6)}:${event} ${args}`;

test('the compiled CLI answers like the TypeScript one; the launcher runs it only while it matches the sources', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vb-dist-'));
  // a copy of the tree's launcher and sources, so building and editing there disturbs no other test
  for (const part of ['bin', 'harness', 'package.json', 'package-lock.json']) await cp(join(REPO, part), join(dir, part), { recursive: true });
  await execa('ln', ['-s', join(REPO, 'node_modules'), join(dir, 'node_modules')]);
  const build = await execa(process.execPath, [join(dir, 'bin/build-dist.js')], { reject: false });
  t.is(build.exitCode, 0, build.stderr);
  const source = join(dir, 'src.log');
  const destination = join(dir, 'dst.log');
  await writeFile(
    source,
    [legacy(1_000_000, 'vhost_vdpa_suspend', 'dev: 0x1'), 'torn line', legacy(2_000_000, 'vhost_vdpa_suspend', 'dev: 0x1')].join('\n') + '\n',
  );
  await writeFile(destination, legacy(4_720_000, 'vhost_vdpa_set_vring_enable_one', 'dev: 0x2, idx: 15, enable: 1, r: 0') + '\n');
  const args = ['downtime', '--source', source, '--destination', destination, '--json'];
  const bin = join(dir, 'bin/vdpa-bench.js');
  // NODE_DEBUG=esm logs every module the launcher loads: that shows which CLI ran
  const run = (env: Record<string, string> = {}) => execa(process.execPath, [bin, ...args], { reject: false, env: { ...env, NODE_DEBUG: 'esm' } });
  const compiled = await run();
  const typescript = await run({ VDPA_BENCH_TSX: '1' });
  t.is(compiled.exitCode, 0, compiled.stderr);
  t.is(compiled.stdout, typescript.stdout);
  t.is(parseJson<DowntimeJson>(compiled.stdout).downtimeUs, 2_720_000);
  t.regex(compiled.stderr, /dist\/main\.js/);
  t.notRegex(typescript.stderr, /dist\/main\.js/);
  // an edited source makes dist stale: the launcher falls back to the TypeScript
  const rules = join(dir, 'harness/metrics/rules.ts');
  await writeFile(rules, (await readFile(rules, 'utf8')) + '\n// edited\n');
  const stale = await run();
  t.is(stale.exitCode, 0, stale.stderr);
  t.notRegex(stale.stderr, /dist\/main\.js/);
  t.is(stale.stdout, typescript.stdout);
});
