/**
 * The migration engine without QEMU, when things go wrong (recorded QEMU behaviour from
 * test/helpers/fake-qemu.ts): a failed migration, a destination that dies, a migration that never
 * converges, a dropped host connection that comes back or does not, a trace file that vanished,
 * an interrupted run, and a cell abandoned after migration.maxConsecutiveFailures (also across a
 * resume). The same faults for real: test/run/faults-qemu.test.ts, test/run/faults-harness*.test.ts.
 */
import { unlink } from 'node:fs/promises';
import test from 'ava';
import { sameMachineClock } from '../../harness/hosts/clock.ts';
import { HostUnreachableError } from '../../harness/hosts/transport.ts';
import { RunInterrupted } from '../../harness/migration/interfaces.ts';
import { cellKey } from '../../harness/profile/cell.ts';
import { engineLab, type EngineLabRun } from '../helpers/engine-lab.ts';
import { RECORDED } from '../helpers/recorded-migration.ts';

const profile = (iterations: number, more = '') => `variants:
  - name: precopy
matrix: { vmSizes: [256M] }
iterations: ${iterations}
warmup: 0
${more}`;

const statuses = (run: EngineLabRun) => run.records.map((r) => r.status);
const everyQemuEnded = (run: EngineLabRun) => run.fake.processes.every((p) => !p.process.alive);

test('a failed migration: recorded failed with query-migrate error-desc and QEMU stderr, both QEMU ended, the next migration boots a fresh pair', async (t) => {
  const run = await engineLab(t, { profile: profile(3), faults: { 2: { kind: 'fail', errorDesc: 'Unable to write to socket: Broken pipe' } } });
  t.deepEqual(statuses(run), ['ok', 'failed', 'ok']);
  const failed = run.records[1];
  t.regex(
    failed.reason!,
    /^migration failed: Unable to write to socket: Broken pipe \(QEMU: \S+Z qemu-system-x86_64: load of migration failed: Input\/output error\)$/,
  );
  t.is(failed.downtimeMs, null);
  t.deepEqual(failed.metrics, { runstate: null, checkpoint: null });
  t.deepEqual(failed.traces, { source: 'traces/0002-precopy-256M-src-hostB.log', destination: 'traces/0002-precopy-256M-dst-hostA.log' }, 'its traces kept');
  // the guest's QEMU (migration 1's destination, on hostB) is ended; migration 3 boots a new one on hostA
  t.true(run.log.includes('dst of migration 1: exited (SIGKILL)'));
  t.true(run.log.includes('hostA: launch src of migration 3'));
  t.deepEqual(run.records[2].metrics, RECORDED.record.metrics);
  t.deepEqual(run.abandoned, []);
  t.true(everyQemuEnded(run));
});

test('a destination that dies mid-migration, or between migrations: recorded failed, the pair restarted, the run goes on', async (t) => {
  const run = await engineLab(t, {
    profile: profile(5),
    faults: { 2: { kind: 'destination-dies' } },
    hooks: [
      {
        async afterMigration({ planned, destination }) {
          // the guest's new home dies before the next migration starts
          if (planned.seq === 3) await destination?.process.kill('SIGKILL');
        },
      },
    ],
  });
  t.deepEqual(statuses(run), ['ok', 'failed', 'ok', 'failed', 'ok']);
  t.regex(run.records[1].reason!, /^migration failed: Unable to write to socket: Connection reset by peer/);
  t.regex(run.records[3].reason!, /QMP connection closed while waiting for reply to human-monitor-command \(QEMU exited\?\)/);
  t.true(run.log.includes('hostA: launch src of migration 5'), 'a fresh source after the dead one');
  t.true(everyQemuEnded(run));
});

test('a migration that never converges: cancelled at migration.timeout (migrate_cancel), recorded failed', async (t) => {
  const run = await engineLab(t, { profile: profile(2, 'migration: { timeout: 1s }\n'), faults: { 1: { kind: 'hangs' } } });
  t.deepEqual(statuses(run), ['failed', 'ok']);
  t.regex(run.records[0].reason!, /^migration did not complete within 1 s: cancelled/);
  t.true(run.fake.commands('src of migration 1').includes('migrate_cancel'));
  t.true(everyQemuEnded(run));
});

test('a dropped host connection: the migration in flight recorded failed naming the loss, nothing fetched before the host is back, a fresh pair goes on', async (t) => {
  const run = await engineLab(t, { profile: profile(3), faults: { 2: { kind: 'host-drops', side: 'destination' } } });
  t.deepEqual(statuses(run), ['ok', 'failed', 'ok']);
  t.regex(
    run.records[1].reason!,
    /^lost the connection to hostA \(ssh root@hostA port 22: the master connection closed, at \S+\): QMP connection closed while waiting for destination completion/,
  );
  t.true(run.notes.some((n) => /^migration 2: lost the connection to hostA .*; reconnecting \(for up to 2m\)$/.test(n)));
  t.true(run.notes.some((n) => /^hostA: connection back after \d+\.\d s \(2 attempts\)$/.test(n)));
  const reconnected = run.log.indexOf('hostA: reconnected');
  t.true(run.log.indexOf('hostA: connection lost') < reconnected);
  t.true(reconnected < run.log.indexOf('hostA: fetched 0002-precopy-256M-dst-hostA.log'), 'the trace is fetched once the host is back');
  t.is(run.records[1].traces.destination, 'traces/0002-precopy-256M-dst-hostA.log');
  t.true(run.log.includes('hostA: launch src of migration 3'));
  t.true(everyQemuEnded(run));
});

test('a host that stays away: the migration in flight is recorded, then the run stops with HostUnreachableError', async (t) => {
  const run = await engineLab(t, {
    profile: profile(3),
    faults: { 2: { kind: 'host-drops', side: 'source' } },
    hosts: ([, hostB]) => void (hostB.comesBack = false),
  });
  t.true(run.error instanceof HostUnreachableError, String(run.error));
  t.is((run.error as HostUnreachableError).host, 'hostB');
  t.deepEqual(statuses(run), ['ok', 'failed']);
  t.regex(run.records[1].reason!, /^lost the connection to hostB .*QMP connection closed/);
  t.false(run.log.some((l) => l.includes('migration 3')));
});

test('a clock offset that cannot be measured: the migration is recorded failed with why, the destination started for it ended', async (t) => {
  let estimates = 0;
  const run = await engineLab(t, {
    profile: profile(3),
    clock: {
      async estimate(from, to) {
        if (++estimates === 2) throw new Error(`${from.hostName} to ${to.hostName}: clock probe timed out`);
        return sameMachineClock.estimate(from, to);
      },
    },
  });
  t.deepEqual(statuses(run), ['ok', 'failed', 'ok']);
  t.is(run.records[1].reason, 'hostB to hostA: clock probe timed out');
  t.true(run.log.includes('dst of migration 2: exited (SIGKILL)'));
  t.true(everyQemuEnded(run));
});

test('a trace file that vanished: the migration is invalid, naming the file and host, and the next one is measured', async (t) => {
  let deleted = '';
  const run = await engineLab(t, {
    profile: profile(2),
    hooks: [
      {
        async beforeMigration({ planned, source }) {
          if (planned.seq === 1) await unlink((deleted = source.currentTraceFile));
        },
      },
    ],
  });
  t.deepEqual(statuses(run), ['invalid', 'ok']);
  t.is(run.records[0].reason, `trace file missing: source trace ${deleted} on hostA`);
  t.is(run.records[0].downtimeMs, null);
});

test('an interrupted run: the migration in flight is cancelled, both QEMU ended, nothing recorded for it', async (t) => {
  const controller = new AbortController();
  const run = await engineLab(t, {
    profile: profile(3),
    signal: controller.signal,
    faults: { 2: { kind: 'hangs' } },
    hooks: [{ beforeMigration: async ({ planned }) => void (planned.seq === 2 && setTimeout(() => controller.abort(), 50)) }],
  });
  t.true(run.error instanceof RunInterrupted, String(run.error));
  t.deepEqual(statuses(run), ['ok']);
  t.true(run.fake.commands('dst of migration 1').includes('migrate_cancel'));
  t.true(everyQemuEnded(run));
});

test('maxConsecutiveFailures not-ok migrations in a row abandon the cell: the callback names it, its last seq and why; its rest never runs; the next cell does', async (t) => {
  const failing = { kind: 'fail', errorDesc: 'Unable to write to socket: Broken pipe' } as const;
  const run = await engineLab(t, {
    profile: `variants:
  - name: broken
  - name: precopy
matrix: { vmSizes: [256M] }
iterations: 3
warmup: 0
migration: { maxConsecutiveFailures: 2 }
`,
    faults: { 1: failing, 2: failing },
  });
  t.deepEqual(
    run.records.map((r) => `${r.seq} ${r.variant} ${r.status}`),
    ['1 broken failed', '2 broken failed', '4 precopy ok', '5 precopy ok', '6 precopy ok'],
  );
  t.is(run.abandoned.length, 1);
  t.is(cellKey(run.abandoned[0].cell), 'broken|256M|-');
  t.is(run.abandoned[0].afterSeq, 2);
  t.regex(run.abandoned[0].reason, /^2 migrations in a row not ok \(last, seq 2: failed: migration failed: Unable to write to socket: Broken pipe/);
  t.true(run.notes.some((n) => n.startsWith('broken') && n.includes('abandoned: 2 migrations in a row')));
  t.false(run.log.some((l) => l.includes('migration 3')));
});

test('resumed: a failure streak carried over abandons the cell at its first failure, a cell already abandoned and recorded migrations are skipped', async (t) => {
  const body = `variants:
  - name: broken
  - name: gone
  - name: precopy
matrix: { vmSizes: [256M] }
iterations: 2
warmup: 0
migration: { maxConsecutiveFailures: 2 }
`;
  const run = await engineLab(t, {
    profile: body,
    faults: { 2: { kind: 'fail', errorDesc: 'Unable to write to socket: Broken pipe' } },
    failureStreaks: new Map([['broken|256M|-', 1]]),
    abandonedCells: new Set(['gone|256M|-']),
    done: new Set([1, 5]),
  });
  t.deepEqual(
    run.records.map((r) => `${r.seq} ${r.variant} ${r.status}`),
    ['2 broken failed', '6 precopy ok'],
  );
  t.deepEqual(
    run.abandoned.map((a) => [cellKey(a.cell), a.afterSeq]),
    [['broken|256M|-', 2]],
  );
  t.false(run.log.some((l) => l.includes('migration 3') || l.includes('migration 4')));
});

test("a tracer's fault (dtrace backend: lost events, a tracer that died) makes its migration invalid with the tracer's words; the next one is measured", async (t) => {
  const said = 'bpftrace on hostB (dst of migration 1): Lost 12 events';
  const run = await engineLab(t, {
    profile: profile(2),
    hooks: [
      {
        async beforeMigration({ planned, destination }) {
          // what a TracedQemu (harness/qemu/traced.ts) reports once its capture is cut into the trace file
          // (a loss is reported for the part of the capture it happened in: once)
          let reported = false;
          const once = () => Promise.resolve(reported ? [] : ((reported = true), [said]));
          if (planned.seq === 1) Object.assign(destination, { settleTrace: once });
        },
      },
    ],
  });
  t.deepEqual(statuses(run), ['invalid', 'ok']);
  t.is(run.records[0].reason, `trace capture incomplete: ${said}`);
  t.is(run.records[0].downtimeMs, null);
  t.not(run.records[1].downtimeMs, null);
});
