/**
 * The real thing: QEMU processes on this machine migrating back and forth, traced, measured.
 * Every recorded downtime is checked against the two raw trace files it names.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadProfile } from '../../harness/profile/load.ts';
import { applyRule } from '../../harness/metrics/rules.ts';
import { BUILTIN_METRICS } from '../../harness/profile/metric-rules.ts';
import { readIterations, readManifest } from '../../harness/results/store.ts';
import { parseTrace } from '../../harness/traces/parse.ts';
import { lastLine, vdpaBench } from '../helpers/cli.ts';
import { comparePlanWithRun } from '../helpers/plan-argv.ts';
import { processesMatching } from '../helpers/processes.ts';
import { requires } from '../helpers/requires.ts';
import type { DowntimeJson } from '../../harness/cli/downtime-command.ts';
import { parseJson } from '../helpers/json.ts';

const test = requires('qemu');

test.serial('local lab: back-to-back migrations of both variants, downtimes match the raw traces', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'vb-local-'));
  const r = await vdpaBench([
    'run',
    'profiles/local.yaml',
    '--vm-size',
    '512M',
    '--iterations',
    '2',
    '--warmup',
    '1',
    '--out',
    out,
    '--workdir',
    join(out, 'hosts'),
    '--no-report',
  ]);
  t.is(r.exitCode, 0, r.stderr);
  const dir = lastLine(r.stdout);
  t.true(dir.startsWith(out), dir);

  const manifest = (await readManifest(dir))!;
  t.is(manifest.state, 'completed');
  t.regex(manifest.profile.sha256, /^[0-9a-f]{64}$/);
  t.is(manifest.profile.text, await readFile('profiles/local.yaml', 'utf8'));
  t.truthy(manifest.hosts[0].kernel);
  t.deepEqual(
    manifest.variants.map((v) => v.name),
    ['precopy', 'pause-before-switchover'],
  );
  for (const v of manifest.variants) t.regex(v.qemuVersion.hostA, /QEMU emulator version/);
  t.true(['kvm', 'tcg'].includes(manifest.accel.used));
  t.truthy(manifest.accel.reason);

  const { records, tornLines } = await readIterations(dir);
  t.deepEqual(tornLines, []);
  // interleaved by default in two counterbalanced blocks per cell (ABBA), each after its own warm-up
  t.is(records.length, 8);
  t.is(records.filter((x) => x.warmup).length, 4);
  t.deepEqual(
    records.map((x) => x.variant),
    ['precopy', 'precopy', 'pause-before-switchover', 'pause-before-switchover', 'pause-before-switchover', 'pause-before-switchover', 'precopy', 'precopy'],
  );
  for (const record of records) {
    t.is(record.status, 'ok', record.reason);
    t.is(record.vmSize, '512M');
    t.is(record.queuePairs, null);
    t.not(record.from, record.to);
    const source = parseTrace(await readFile(join(dir, record.traces.source), 'utf8')).events;
    const destination = parseTrace(await readFile(join(dir, record.traces.destination), 'utf8')).events;
    const check = applyRule(BUILTIN_METRICS.runstate, { source, destination });
    t.true(check.ok, `${record.seq}: ${!check.ok && check.reason}`);
    if (!check.ok) continue;
    t.is(record.downtimeMs, check.downtimeUs / 1000, `migration ${record.seq}`);
    t.is(record.metrics.runstate, record.downtimeMs as number);
    t.true(record.downtimeMs! > 0);
    t.true(record.qmp!.totalTimeMs! > 0);
    // The trace span must fall inside the migration as QMP saw it from both ends (source migrate ->
    // destination completed). QMP's own total-time is the source's view only: on a loaded machine the
    // destination can still be loading state when the source reports completion, so it is no bound.
    t.true(record.downtimeMs! < record.migrationSpanMs!, `migration ${record.seq}: ${record.downtimeMs} ms vs migration ${record.migrationSpanMs} ms`);
    t.true(record.migrationSpanMs! > 0);
    t.is(record.qmp!.downtimeMs === null, false);
    // QEMU's RAM counters at completion: at least the final dirty sync, and pages sent one way or the other
    const ram = record.qmp!.ram!;
    t.true(ram.dirtySyncCount! >= 1, JSON.stringify(ram));
    t.true(ram.transferredBytes! > 0 && ram.normalPages! + ram.zeroPages! > 0, JSON.stringify(ram));
  }
  // ping-pong: each block alternates directions, and consecutive migrations share a QEMU process
  const firstBlock = records.filter((x) => x.block === 1);
  t.deepEqual(
    firstBlock.map((x) => `${x.from}>${x.to}`),
    ['hostA>hostB', 'hostB>hostA'],
  );
  t.is(firstBlock[1].traces.source.replace('-src-', '-X-').split('-').slice(-1)[0], 'hostB.log');

  // the CLI gives the same answer from the same two files
  const cli = await vdpaBench([
    'downtime',
    '--metric',
    'runstate',
    '--json',
    '--source',
    join(dir, records[1].traces.source),
    '--destination',
    join(dir, records[1].traces.destination),
  ]);
  t.is(parseJson<DowntimeJson>(cli.stdout).downtimeUs / 1000, records[1].downtimeMs as number);
  t.deepEqual(await processesMatching(manifest.runId), [], 'no QEMU of this run is left');

  // plan with this run's facts printed every QEMU command line the run started, byte for byte
  const loaded = await loadProfile('profiles/local.yaml');
  for (const host of loaded.profile.hosts) host.workdir = resolve(join(out, 'hosts'));
  const comparison = await comparePlanWithRun(dir, loaded, { vmSizes: ['512M'], iterations: 2, warmup: 1 });
  t.deepEqual(comparison.mismatches, []);
  t.deepEqual(comparison.unplanned, []);
  t.deepEqual(comparison.notStarted, []);
  t.is(comparison.matched, 12 + 8, 'four VM boots: a source and two destinations each, the run directories once on each side');
});

test.serial('local lab: a migration past its timeout is cancelled, a paused guest is refused, the run goes on', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'vb-faults-'));
  const profile = join(out, 'faults.yaml');
  await writeFile(
    profile,
    `name: faults
hosts: [{ name: hostA }, { name: hostB }]
vm: { memory: { backend: file, share: true } }
variants:
  - name: stuck
    parameters: { max-bandwidth: 1024 }
  - name: paused
    extraArgs: ["-S"]
  - name: fine
matrix: { vmSizes: [256M] }
iterations: 1
warmup: 0
migration: { timeout: 20s }
`,
  );
  const r = await vdpaBench(['run', profile, '--out', out, '--workdir', join(out, 'hosts'), '--no-report']);
  t.is(r.exitCode, 0, r.stderr);
  const dir = lastLine(r.stdout);
  const { records } = await readIterations(dir);
  const byVariant = Object.fromEntries(records.map((x) => [x.variant, x]));
  t.is(byVariant.stuck.status, 'failed');
  t.regex(byVariant.stuck.reason!, /did not complete within 20 s: cancelled/);
  t.is(byVariant.stuck.downtimeMs, null);
  t.is(byVariant.paused.status, 'failed');
  t.regex(byVariant.paused.reason!, /source before migration: guest is "prelaunch", expected "running"/);
  t.is(byVariant.fine.status, 'ok');
  t.true(byVariant.fine.downtimeMs! > 0);
  t.regex(r.stderr, /3 migrations: 1 ok, 2 failed, 0 invalid/);
  const manifest = (await readManifest(dir))!;
  t.deepEqual(await processesMatching(manifest.runId), []);
});
