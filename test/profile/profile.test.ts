import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { loadProfile, parseProfile, ProfileError, type ProfileProblem } from '../../harness/profile/load.ts';
import { profileJsonSchema } from '../../harness/profile/json-schema.ts';
import { parseDuration, parseSize } from '../../harness/profile/size.ts';
import { readJson } from '../helpers/json.ts';

const good = `name: t
hosts:
  - name: a
  - name: b
variants:
  - name: before
  - name: after
matrix:
  vmSizes: [39G, 39GiB, 0.5G, 512M]
`;

function problems(text: string): ProfileProblem[] {
  try {
    parseProfile(text, 'p.yaml');
  } catch (error) {
    if (error instanceof ProfileError) return error.problems;
    throw error;
  }
  return [];
}

test('sizes: 39G, 39GiB, 0.5G and 512M parse as binary units', (t) => {
  t.is(parseSize('39G'), 39 * 2 ** 30);
  t.is(parseSize('39GiB'), 39 * 2 ** 30);
  t.is(parseSize('0.5G'), 2 ** 29);
  t.is(parseSize('512M'), 2 ** 29);
  t.is(parseSize('128g'), 128 * 2 ** 30);
  for (const bad of ['-3', '12Q', '', 'G', '1.5', '0G']) t.throws(() => parseSize(bad), undefined, bad);
  t.is(parseDuration('90s'), 90_000);
  t.is(parseDuration('5m'), 300_000);
  t.is(parseDuration(2), 2_000);
  t.throws(() => parseDuration('soon'));
});

test('a good profile parses and fills defaults', (t) => {
  const p = parseProfile(good);
  t.is(p.iterations, 5);
  t.is(p.vm.accel, 'auto');
  t.deepEqual(p.matrix.queuePairs, [null]);
  t.is(p.variants[0].qemu.binary, 'qemu-system-x86_64');
  t.is(p.hosts[0].transport.kind, 'local');
});

test('unknown keys are errors at their own line and column', (t) => {
  const text = good.replace('  - name: b\n', '  - name: b\n    trasnport: { kind: local }\n');
  const [p, ...rest] = problems(text);
  t.is(rest.length, 0);
  t.is(p.line, 5);
  t.is(p.col, 5);
  t.is(p.path, 'hosts.1.trasnport');
  t.regex(p.message, /unknown key "trasnport"/);
});

test('bad sizes point at the offending list item', (t) => {
  const text = good.replace('vmSizes: [39G, 39GiB, 0.5G, 512M]', 'vmSizes:\n    - 39G\n    - -3\n    - 12Q');
  const found = problems(text);
  t.deepEqual(
    found.map((p) => [p.line, p.col, p.path]),
    [
      [11, 7, 'matrix.vmSizes.1'],
      [12, 7, 'matrix.vmSizes.2'],
    ],
  );
  t.regex(found[0].message, /-3 has no unit/);
  t.regex(found[1].message, /"12Q" is not a size/);
});

test('references to undefined variants, hosts and metrics are reported where they are written', (t) => {
  const text = `${good}pair: [a, c]\nmetrics:\n  primary: vdpa-redy\ncompare:\n  baseline: befor\n`;
  const found = problems(text);
  t.deepEqual(
    found.map((p) => p.path),
    ['pair.1', 'metrics.primary', 'compare.baseline'],
  );
  t.is(found[0].line, 10);
  t.regex(found[1].message, /unknown metric "vdpa-redy" \(known: runstate, checkpoint, vdpa, vdpa-ready\)/);
  t.regex(found[2].message, /no variant named "befor" \(variants: before, after\)/);
});

test('missing required keys point at the parent; YAML syntax errors have a position', (t) => {
  const missing = problems('name: t\nhosts:\n  - name: a\nvariants:\n  - name: v\n');
  t.is(missing.length, 1);
  t.is(missing[0].path, 'matrix');
  t.regex(missing[0].message, /missing/);
  const syntax = problems('name: t\nhosts: [a\n');
  t.true(syntax.length >= 1);
  t.regex(syntax[0].message, /^YAML: /);
  t.true(syntax[0].line >= 2);
});

test('a wrong discriminator names the accepted kinds', (t) => {
  const found = problems(good.replace('  - name: b\n', '  - name: b\n    transport: { kind: telnet }\n'));
  t.is(found[0].path, 'hosts.1.transport.kind');
  t.regex(found[0].message, /local|ssh|netns/);
});

test('every shipped profile validates', async (t) => {
  const files = (await readdir(new URL('../../profiles/', import.meta.url))).filter((f) => f.endsWith('.yaml'));
  t.true(files.includes('local.yaml'));
  for (const f of files) await t.notThrowsAsync(loadProfile(new URL(`../../profiles/${f}`, import.meta.url).pathname), f);
});

test('profiles/schema.json is current (npm run build:schema)', async (t) => {
  const committed = await readJson<unknown>(new URL('../../profiles/schema.json', import.meta.url));
  t.deepEqual(committed, JSON.parse(JSON.stringify(profileJsonSchema())));
});

test('loadProfile hashes the text and reports an unreadable file as a problem', async (t) => {
  const loaded = await loadProfile(new URL('../../profiles/local.yaml', import.meta.url).pathname);
  t.regex(loaded.sha256, /^[0-9a-f]{64}$/);
  const error = await t.throwsAsync(loadProfile('/nonexistent/p.yaml'), { instanceOf: ProfileError });
  t.regex(error!.message, /^\/nonexistent\/p.yaml:1:1 \(profile\): cannot read the profile/);
});

test('a variant workload needs the built Linux guest, and says so where it is written', (t) => {
  const text = good.replace('  - name: after\n', '  - name: after\n    workload: { kind: idle }\n');
  const found = problems(text);
  t.deepEqual(
    found.map((p) => p.path),
    ['variants.1.workload'],
  );
  t.is(found[0].line, 8);
  t.regex(found[0].message, /needs vm\.guest\.kind: builtin-linux \(the guest here is firmware\)/);
  t.deepEqual(problems(`${text}vm:\n  guest: { kind: builtin-linux }\n`), []);
});

test('lab-in-a-box mistakes are profile problems at their own position, before anything is built', async (t) => {
  const base = await readFile(new URL('../../profiles/lab-in-a-box.yaml', import.meta.url), 'utf8');
  const at = (text: string) => problems(text).map((p) => `${p.line} ${p.path}: ${p.message}`);
  const line = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
  // a working set that is not whole chunks
  const chunks = base.replace('workingSet: 256M, chunk: 16M', 'workingSet: 100M, chunk: 16M');
  t.deepEqual(at(chunks), [`${line(chunks, 'workload: { kind: dirty')} vm.guest.workload: workload.workingSet 100M must be at least two whole chunks of 16M`]);
  // a VM size too small for the workload's buffers
  const small = base.replace('vmSizes: [1G]', 'vmSizes: [256M, 1G]');
  const found = problems(small);
  t.deepEqual(
    found.map((p) => p.path),
    ['matrix.vmSizes.0'],
  );
  t.regex(found[0].message, /a 256M guest cannot hold vm\.guest\.workload: its tmpfs buffers take 304M .* give at least 432M/);
  t.is(found[0].line, line(small, 'vmSizes'));
  // a network lab without a tap NIC, and a host that is not a namespace
  const noTap = base
    .replace("nic: { kind: tap, mac: '52:54:00:98:00:02', guestAnnounce: true }", 'nic: { kind: none }')
    .replace('transport: { kind: netns, namespace: hostB }', 'transport: { kind: local }');
  t.deepEqual(
    problems(noTap)
      .map((p) => p.path)
      .sort(),
    ['hosts.1.transport.kind', 'vm.nic.kind'],
  );
  t.deepEqual(problems(base), []);
});

test("the README's first command compares a pair it runs, and says in its reports what that pair is and that it is not the seed's experiment", async (t) => {
  const { profile } = await loadProfile(new URL('../../profiles/lab-in-a-box.yaml', import.meta.url).pathname);
  const matrix = profile.matrix.variants ?? profile.variants.map((v) => v.name);
  t.true(
    matrix.includes(profile.compare.baseline!) && matrix.includes(profile.compare.candidate!),
    `${profile.compare.baseline} -> ${profile.compare.candidate} in ${matrix.join(', ')}`,
  );
  const variant = (name: string) => profile.variants.find((v) => v.name === name)!;
  // the pair differs in the downtime limit, the setting the purpose names, and nothing else
  t.deepEqual(
    { ...variant(profile.compare.baseline!).parameters, 'downtime-limit': 0 },
    { ...variant(profile.compare.candidate!).parameters, 'downtime-limit': 0 },
  );
  t.deepEqual(variant(profile.compare.baseline!).qemu, variant(profile.compare.candidate!).qemu);
  t.regex(profile.compare.purpose ?? '', /not the seed's vhost-vDPA experiment/);
  // and the sentence names both limits as QEMU gets them, and that the workload and QEMU are shared
  const spoken = (ms: number) => (ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`);
  for (const name of [profile.compare.baseline!, profile.compare.candidate!])
    t.true((profile.compare.purpose ?? '').includes(spoken(Number(variant(name).parameters['downtime-limit']))), `${name} in: ${profile.compare.purpose}`);
  t.deepEqual([variant(profile.compare.baseline!).workload, variant(profile.compare.candidate!).workload], [undefined, undefined]);
  // an interval for every cell needs 6 ok measured migrations (docs/reports.md, small samples)
  t.true(profile.iterations >= 6);
});

test('a bad lab-in-a-box profile makes run exit 2 with file:line:col and builds nothing', async (t) => {
  const { vdpaBench } = await import('../helpers/cli.ts');
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'vb-labbox-profile-'));
  const file = join(dir, 'bad.yaml');
  const text = (await readFile(new URL('../../profiles/lab-in-a-box.yaml', import.meta.url), 'utf8')).replace(
    'workingSet: 256M, chunk: 16M',
    'workingSet: 256M, chunk: 3M',
  );
  await writeFile(file, text);
  const r = await vdpaBench(['run', file, '--out', join(dir, 'results'), '--workdir', join(dir, 'work')]);
  t.is(r.exitCode, 2, r.stderr);
  t.regex(
    r.stderr,
    new RegExp(
      `${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+ vm\\.guest\\.workload: workload\\.workingSet 256M must be at least two whole chunks of 3M`,
    ),
  );
  t.is(r.stdout, '');
});
