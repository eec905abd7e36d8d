/** A record is completed once from the lab features' contributions (record.ts): composition, order, and what each hook sees (pure). */
import test from 'ava';
import type { MigrationContribution, MigrationHooks } from '../../harness/migration/interfaces.ts';
import { readyGapHook } from '../../harness/migration/ready-gap-hook.ts';
import { completeRecord, withContributions, type HookContext } from '../../harness/migration/record.ts';
import { recordedIterationSchema } from '../../harness/results/schema.ts';
import type { IterationRecord } from '../../harness/results/types.ts';
import { iterationRecord } from '../helpers/records.ts';

const network = {
  periodMs: 1,
  replyTimeoutMs: 1000,
  sent: 4000,
  received: 3950,
  lost: 50,
  lateReplies: 0,
  rttMs: { p50: 0.2, p99: 0.9, max: 3 },
  lostRun: { probes: 48, ms: 48, firstSeq: 2001, fromUs: 5_000_000, toUs: 5_048_000 },
  rxGap: { ms: 49.5, fromUs: 4_999_900, toUs: 5_049_400 },
  lateSends: 0,
  log: '/run/probes/0001.txt',
};
const integrity = { guestDirtyRateMBps: 120, sourceEvidence: [], verdict: 'ok' as const, check: 7, waitedMs: 900, evidence: [] };
const downtimePhases = { startUs: 1, checkpoints: [], phases: [], missing: ['source stop (src-vm-stopped not traced)'] };

test('parts go into extra after the traces’ own, metrics after the trace metrics, errors merged; a valid record comes out', (t) => {
  const traced = iterationRecord({ metrics: { runstate: 100 }, extra: { downtimePhases } });
  const record = withContributions(traced, [
    { parts: { integrity } },
    { parts: { network }, metrics: { network: 48, 'network-rx-gap': 49.5 } },
    { metrics: { extraMetric: null }, metricErrors: { extraMetric: 'fewer than two replies' } },
    { negotiatedQueuePairs: { host: 'hostB', device: 'vdpa0', queuePairs: 4, maxVqPairs: 4, mq: true } },
  ]);
  t.deepEqual(Object.keys(record.extra!), ['downtimePhases', 'integrity', 'network']);
  t.deepEqual(record.metrics, { runstate: 100, network: 48, 'network-rx-gap': 49.5, extraMetric: null });
  t.deepEqual(record.metricErrors, { extraMetric: 'fewer than two replies' });
  t.is(record.negotiatedQueuePairs?.queuePairs, 4);
  t.is(record.status, 'ok');
  t.is(record.downtimeMs, 100);
  t.notThrows(() => recordedIterationSchema.parse(record));
  t.deepEqual(traced.metrics, { runstate: 100 }, 'the record of the traces is left as it was');
  t.deepEqual(Object.keys(traced.extra!), ['downtimePhases']);
});

test('no contribution changes nothing: no extra, no metricErrors appear', (t) => {
  const traced = iterationRecord();
  t.deepEqual(withContributions(traced, [{}, { metricErrors: {} }]), traced);
});

test('reasons not to count the migration: in hook order, before the reason the traces gave; the value is dropped', (t) => {
  const ok = withContributions(iterationRecord(), [{ invalid: 'guest failed its checks after migration: source console: BUG' }]);
  t.is(ok.status, 'invalid');
  t.is(ok.downtimeMs, null);
  t.is(ok.reason, 'guest failed its checks after migration: source console: BUG');
  t.is(ok.metrics.runstate, 100, 'the measured value stays in metrics, shown at its value');
  const traced = iterationRecord({ status: 'invalid', downtimeMs: null, reason: 'primary metric runstate: missing event on the source' });
  t.is(
    withContributions(traced, [{ invalid: 'first' }, {}, { invalid: 'second' }]).reason,
    'first; second; primary metric runstate: missing event on the source',
  );
});

const context = { planned: { seq: 3 } } as unknown as HookContext;

test('every hook sees the record of the traces alone, in hook order; one reboot request reboots the guest', async (t) => {
  const seen: string[] = [];
  const hook = (name: string, contribution: MigrationContribution): MigrationHooks => ({
    async afterMigration({ record }) {
      seen.push(`${name}: ${record.status} ${Object.keys(record.metrics).join(',')}`);
      return contribution;
    },
  });
  const { record, rebootGuest } = await completeRecord(
    iterationRecord(),
    [hook('probe', { metrics: { network: 5 } }), {}, hook('guest', { invalid: 'damaged', rebootGuest: true }), hook('last', {})],
    context,
  );
  t.deepEqual(seen, ['probe: ok runstate', 'guest: ok runstate', 'last: ok runstate']);
  t.true(rebootGuest);
  t.is(record.status, 'invalid');
  t.is(record.metrics.network, 5);
  const calm = await completeRecord(iterationRecord(), [hook('probe', {})], context);
  t.false(calm.rebootGuest);
});

const withVdpa = (vdpa: number, vdpaReady: number): IterationRecord =>
  iterationRecord({ primaryMetric: 'vdpa', downtimeMs: vdpa, metrics: { vdpa, 'vdpa-ready': vdpaReady } });

test('the ready-gap hook contributes vdpa against vdpa-ready and says so when they differ beyond the tolerance', async (t) => {
  const notes: string[] = [];
  const hooks = [readyGapHook(10, (m) => notes.push(m))];
  const close = await completeRecord(withVdpa(50, 52), hooks, context);
  t.deepEqual(close.record.extra?.vdpaReadyGap, { vdpaMs: 50, vdpaReadyMs: 52, gapMs: 2, tolerancePct: 10, floorMs: 1, flagged: false });
  t.deepEqual(notes, []);
  const far = await completeRecord(withVdpa(50, 80), hooks, context);
  t.true(far.record.extra?.vdpaReadyGap?.flagged);
  t.is(far.record.status, 'ok', 'a flagged gap is reported, not a reason to drop the migration');
  t.deepEqual(notes, ['migration 3: vdpa-ready 80.0 ms vs vdpa 50.0 ms: the device was ready 30.0 ms after the last vring enable (tolerance 10%)']);
  const without = await completeRecord(iterationRecord(), hooks, context);
  t.is(without.record.extra, undefined, 'no vdpa-ready metric: no part');
});
