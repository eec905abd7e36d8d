/**
 * The migration engine without QEMU: block.ts, migrate.ts and record.ts driven through
 * EngineOptions.qemu by recorded QEMU behaviour (test/helpers/fake-qemu.ts), for migrations that
 * go as they should: the records and their figures, the QMP conversation, trace rotation,
 * pipelining of the next destination, warm-ups and adaptive sampling, a guest rebooted on a
 * hook's request. The faults are in engine-faults.test.ts; the same behaviour with real QEMU in
 * test/run/local-lab.test.ts and test/run/faults-qemu.test.ts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import type { IterationRecord } from '../../harness/results/types.ts';
import { engineLab, type EngineLabRun } from '../helpers/engine-lab.ts';
import { QEMU_10_SETTINGS } from '../helpers/qemu-settings.ts';
import { RECORDED } from '../helpers/recorded-migration.ts';

const precopy = (iterations: number, warmup: number, variant = '  - name: limit-300ms\n    parameters: { downtime-limit: 300 }') => `variants:
${variant}
matrix: { vmSizes: [512M] }
iterations: ${iterations}
warmup: ${warmup}
`;

/** Position of the first log entry containing `entry` (fails the test when there is none). */
function at(run: EngineLabRun, entry: string): number {
  const index = run.log.findIndex((l) => l.includes(entry));
  if (index === -1) throw new Error(`not in the log: ${entry}\n${run.log.join('\n')}`);
  return index;
}

for (const format of ['log-legacy', 'log-iso'] as const) {
  test(`${format} traces: every migration recorded ok with the downtimes real QEMU's traces gave, QMP's figures once settled, each migration's own trace files`, async (t) => {
    const run = await engineLab(t, { profile: precopy(2, 1), format });
    t.is(run.error, undefined);
    t.deepEqual(
      run.records.map((r) => [r.seq, r.status, r.warmup, r.iteration, r.from, r.to]),
      [
        [1, 'ok', true, 1, 'hostA', 'hostB'],
        [2, 'ok', false, 1, 'hostB', 'hostA'],
        [3, 'ok', false, 2, 'hostA', 'hostB'],
      ],
    );
    for (const r of run.records) {
      t.deepEqual(r.metrics, RECORDED.record.metrics, `migration ${r.seq}: the figures of the recorded run`);
      t.is(r.downtimeMs, RECORDED.record.metrics.runstate);
      t.is(r.migrationSpanMs, RECORDED.record.migrationSpanMs);
      // query-migrate reads 0 right after the completed event: the engine asks again
      t.deepEqual(r.qmp && [r.qmp.downtimeMs, r.qmp.totalTimeMs, r.qmp.setupTimeMs, r.qmp.ram?.transferredBytes], [184, 5549, 3, 561025663]);
      t.is(r.destinationQmpReadyMs, RECORDED.destinationQmpReadyMs);
      t.deepEqual(r.unparsedTraceLines, { source: 0, destination: 0 });
    }
    t.deepEqual(
      run.records[0].metricAnchors?.runstate && [run.records[0].metricAnchors.runstate.start.line, run.records[0].metricAnchors.runstate.end.line],
      [5, 6],
    );
    // the guest that arrived on hostB goes on: its trace continues in migration 2's source file, without the boot line
    t.is(run.records[1].metricAnchors?.runstate.start.line, 4);
    const text = (r: IterationRecord, side: 'source' | 'destination') => readFile(join(run.storeDir, r.traces[side]), 'utf8');
    const secondSource = await text(run.records[1], 'source');
    t.is(run.records[1].traces.source, 'traces/0002-limit-300ms-512M-src-hostB.log');
    t.regex(
      secondSource.split('\n')[0],
      format === 'log-iso'
        ? /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z migrate_set_state new state setup$/
        : /^6454@\d+\.\d{6}:migrate_set_state new state setup$/,
    );
    t.is((await text(run.records[0], 'destination')).split('\n').filter(Boolean).length, 8, 'migration 1 destination file holds its 8 lines only');
  });
}

test('QMP in the engine order: capabilities and parameters on both sides, migrate-incoming on port 0, migrate to the port query-migrate names, query-migrate until settled, the old source quits, the guest trace rotated', async (t) => {
  const run = await engineLab(t, { profile: precopy(1, 1) });
  const setUp = ['migrate-set-capabilities', 'migrate-set-parameters', 'query-migrate-capabilities', 'query-migrate-parameters'];
  t.deepEqual(run.fake.commands('src of migration 1'), [
    'qmp_capabilities',
    'query-status',
    ...setUp,
    'migrate tcp:127.0.0.1:40001',
    'query-migrate',
    'query-migrate',
    'quit',
  ]);
  t.deepEqual(
    run.fake.commands('dst of migration 1').map((c) => c.replace(run.dir, '<dir>')),
    [
      'qmp_capabilities',
      ...setUp,
      'migrate-incoming tcp:127.0.0.1:0',
      'query-migrate',
      'query-status',
      'human-monitor-command logfile "<dir>/hostB/traces/0002-limit-300ms-512M-src-hostB.log"',
      'query-status',
      ...setUp,
      'migrate tcp:127.0.0.1:40002',
      'query-migrate',
      'query-migrate',
      'quit',
    ],
  );
  t.true(
    at(run, 'dst of migration 1: migrate-incoming') > at(run, 'src of migration 1: migrate-set-parameters'),
    'the source is set up before the destination listens',
  );
  t.true(
    run.fake.processes.every((p) => !p.process.alive),
    'the block ends its guest',
  );
});

test('migration.port: the destination listens on that port (migrate-incoming tcp:ADDR:PORT) and the source migrates to it, every migration', async (t) => {
  const run = await engineLab(t, { profile: precopy(2, 0) + 'migration: { port: 49152 }\n' });
  t.deepEqual(
    run.records.map((r) => r.status),
    ['ok', 'ok'],
  );
  t.true(run.fake.commands('dst of migration 1').includes('migrate-incoming tcp:127.0.0.1:49152'));
  t.true(run.fake.commands('src of migration 1').includes('migrate tcp:127.0.0.1:49152'));
  t.true(run.fake.commands('dst of migration 2').includes('migrate-incoming tcp:127.0.0.1:49152'), 'the port is free again once the first migration took it');
  t.false(run.fake.commands('dst of migration 1').includes('migrate-incoming tcp:127.0.0.1:0'));
  t.deepEqual(
    run.records.map((r) => r.qmp?.port),
    [49152, 49152],
    'each record says the port',
  );
});

test("effective migration settings: read back on both sides after set-up, QEMU's defaults included, in every record; a setting QEMU refuses fails the migration", async (t) => {
  const run = await engineLab(t, { profile: precopy(2, 0, '  - name: fast\n    parameters: { max-bandwidth: 10737418240 }') });
  // the destination of migration 1 is migration 2's source: set up and read back before each migration it takes part in
  const readBack = ['migrate-set-capabilities', 'migrate-set-parameters', 'query-migrate-capabilities', 'query-migrate-parameters'];
  const settingUp = (label: string) => run.fake.commands(label).filter((c) => readBack.includes(c));
  t.deepEqual(settingUp('src of migration 1'), readBack);
  t.deepEqual(settingUp('dst of migration 1'), [...readBack, ...readBack]);
  for (const r of run.records) {
    const settings = r.migrationSettings!;
    t.is(settings.source.parameters['max-bandwidth'], 10737418240, 'the value set');
    t.is(settings.source.parameters['downtime-limit'], QEMU_10_SETTINGS.parameters['downtime-limit'], "QEMU's default, unset by the profile");
    t.true(settings.source.capabilities.events);
    t.false(settings.destination.capabilities['pause-before-switchover']);
  }
  // a parameter this QEMU does not know: QEMU refuses it at set-up, and the migration fails saying so
  const unknown = await engineLab(t, { profile: precopy(1, 0, '  - name: odd\n    parameters: { x-not-a-parameter: 1 }') });
  t.is(unknown.records[0].status, 'failed');
  t.regex(unknown.records[0].reason ?? '', /Parameter 'x-not-a-parameter' is unexpected/);
});

test('pause-before-switchover: the engine answers pre-switchover with migrate-continue, and the migration completes', async (t) => {
  const run = await engineLab(t, {
    profile: precopy(1, 0, '  - name: paused\n    capabilities: { pause-before-switchover: true }') + 'migration: { timeout: 5s }\n',
  });
  t.deepEqual(
    run.records.map((r) => [r.status, r.downtimeMs]),
    [['ok', RECORDED.record.metrics.runstate]],
    run.records[0]?.reason,
  );
  t.deepEqual(run.fake.commands('src of migration 1').slice(5, 8), ['migrate tcp:127.0.0.1:40001', 'migrate-continue pre-switchover', 'query-migrate']);
});

test('pipelining: without a hook judging the guest, the next destination starts while the traces are still being fetched, after the old source quit', async (t) => {
  const log: string[] = [];
  const run = await engineLab(t, {
    profile: precopy(2, 0),
    log,
    hosts([, hostB]) {
      // hold the fetch of migration 1's destination trace until migration 2's destination starts (bounded)
      hostB.beforeFetch = async (path) => {
        if (!path.endsWith('0001-limit-300ms-512M-dst-hostB.log')) return;
        for (let i = 0; i < 300 && !log.some((l) => l.includes('launch dst of migration 2')); i++) await new Promise((r) => setTimeout(r, 10));
      };
    },
  });
  t.deepEqual(
    run.records.map((r) => r.status),
    ['ok', 'ok'],
  );
  t.true(at(run, 'hostA: launch dst of migration 2') < at(run, 'hostB: fetched 0001-limit-300ms-512M-dst-hostB.log'), run.log.join('\n'));
  t.true(at(run, 'src of migration 1: exited') < at(run, 'hostA: launch dst of migration 2'), 'the old source leaves the host first');
});

test('warm-ups run and are recorded as such; once sampling says the cell is done no further migration runs, and the destination started ahead for the next one is ended unused', async (t) => {
  const measured: IterationRecord[] = [];
  const run = await engineLab(t, {
    profile: precopy(5, 2),
    sampling: {
      isDone: () => measured.length >= 1,
      recorded: (record) => void (record.warmup || measured.push(record)),
    },
  });
  t.deepEqual(
    run.records.map((r) => [r.seq, r.warmup, r.iteration, r.status]),
    [
      [1, true, 1, 'ok'],
      [2, true, 2, 'ok'],
      [3, false, 1, 'ok'],
    ],
  );
  // pipelining starts it before migration 3's record tells sampling the cell is done
  t.deepEqual(run.fake.commands('dst of migration 4'), ['qmp_capabilities'], run.log.join('\n'));
  t.true(run.log.includes('dst of migration 4: exited (SIGKILL)'));
  t.false(run.log.some((l) => l.includes('migration 5')));
});

test('a damaged guest: the hook that judged it asks for a reboot, the engine ends it and boots a fresh one; the next destination waits for every verdict', async (t) => {
  const log: string[] = [];
  const run = await engineLab(t, {
    profile: precopy(4, 0),
    log,
    hooks: [
      {
        async afterMigration({ planned }) {
          log.push(`judged ${planned.seq}`);
          return { rebootGuest: planned.seq === 2 };
        },
      },
    ],
  });
  t.deepEqual(
    run.records.map((r) => r.status),
    ['ok', 'ok', 'ok', 'ok'],
  );
  t.true(run.notes.includes('migration 2: guest damaged; booting a fresh guest'), run.notes.join('\n'));
  // migration 2 brought the guest to hostA: that QEMU is killed, migration 3 boots a new one there
  t.true(at(run, 'judged 2') < at(run, 'dst of migration 2: exited (SIGKILL)'));
  t.true(at(run, 'dst of migration 2: exited (SIGKILL)') < at(run, 'hostA: launch src of migration 3'));
  t.false(
    run.log.some((l) => l.startsWith('dst of migration 2: human-monitor-command')),
    'the damaged guest is not migrated on',
  );
  t.false(run.log.some((l) => l.includes('launch src of migration 2') || l.includes('launch src of migration 4')));
  for (const seq of [1, 2, 3]) t.true(at(run, `judged ${seq}`) < at(run, `launch dst of migration ${seq + 1}`), `destination ${seq + 1} after verdict ${seq}`);
});
