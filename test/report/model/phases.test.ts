import test from 'ava';
import { phaseNotes, recordPhases } from '../../../harness/report/model/phases.ts';
import { parseIterations } from '../../../harness/results/store.ts';
import type { DowntimePhases } from '../../../harness/results/types.ts';
import { iterationRecord, pinningBatch, recordedPhases } from '../../helpers/records.ts';

const anchored = {
  primaryMetric: 'vdpa',
  metrics: { vdpa: 2000 },
  downtimeMs: 2000,
  metricAnchors: {
    vdpa: {
      start: { event: 'vhost_vdpa_suspend', timeUs: 1_000_000, line: 1 },
      end: { event: 'vhost_vdpa_set_vring_enable_one', timeUs: 3_000_000, line: 9 },
      fallback: false,
    },
  },
};

test('phases from the vDPA analysis: window, pinning batches, DRIVER_OK on the freeze-relative axis; the rest as notes', (t) => {
  const phases = recordedPhases(
    {
      queuePairs: 8,
      downtimeWindow: { metric: 'vdpa', startUs: 1_000_000, endUs: 3_000_000 },
      driverOk: { timeUs: 2_960_000, line: 40, afterDowntimeStartMs: 1960 },
      vrings: {
        event: 'vhost_vdpa_set_vring_enable_one',
        enabled: 16,
        expected: 17,
        order: [16, ...Array.from({ length: 15 }, (_, i) => i)],
        failed: [],
        ok: false,
        problem: '16 vrings enabled on the destination, expected 17 for 8 queue pairs (missing idx 15)',
      },
      destinationQmpBlackoutMs: 212,
    },
    [
      pinningBatch({ beginUs: 1_100_000, commitUs: 2_500_000, dmaMaps: 2, bytes: 39 * 1024 ** 3, overlapsDowntime: true, overlapMs: 1400 }),
      pinningBatch({ beginUs: 900_000, commitUs: 900_100, dmaMaps: 0, bytes: 0 }),
    ],
  );
  const record = iterationRecord({ ...anchored, extra: { phases } });
  t.deepEqual(recordPhases(record), [
    { name: 'downtime (vdpa)', startMs: 0, endMs: 2000, side: 'downtime window', instant: false },
    { name: 'pinning: 2 dma_map, 39.0 GiB', startMs: 100, endMs: 1500, side: 'destination', instant: false },
    { name: 'DRIVER_OK', startMs: 1960, endMs: 1960, side: 'destination', instant: true },
  ]);
  t.deepEqual(phaseNotes(record), [
    'pinning: 2 dma_map, 39.0 GiB overlaps the downtime window by 1400.0 ms',
    'vrings enabled 16/17 (16 vrings enabled on the destination, expected 17 for 8 queue pairs (missing idx 15))',
    'destination QMP blackout at start-up 212 ms',
  ]);
});

test('without a downtime window in the phases, the primary metric span is the reference row; vrings that could not be counted say why', (t) => {
  const phases = recordedPhases({ vrings: { ok: null, reason: 'no vhost_vdpa_set_vring_enable_one or vhost_vdpa_set_vring_ready event on the destination' } });
  const record = iterationRecord({ ...anchored, extra: { phases } });
  t.is(recordPhases(record), null, 'no batch, no DRIVER_OK, no checkpoints: nothing to draw');
  t.deepEqual(phaseNotes(record), ['vrings not counted: no vhost_vdpa_set_vring_enable_one or vhost_vdpa_set_vring_ready event on the destination']);
  const withDriverOk = iterationRecord({ ...anchored, extra: { phases: { ...phases, driverOk: { timeUs: 2_500_000, line: 3, afterDowntimeStartMs: null } } } });
  t.deepEqual(recordPhases(withDriverOk), [
    { name: 'downtime (vdpa)', startMs: 0, endMs: 2000, instant: false, side: 'downtime window' },
    { name: 'DRIVER_OK', startMs: 1500, endMs: 1500, side: 'destination', instant: true },
  ]);
});

const checkpoints: DowntimePhases = {
  startUs: 1_000_000,
  checkpoints: [],
  phases: [
    { name: 'source stop', side: 'source', startUs: 1_000_000, endUs: 1_010_000, durationMs: 10 },
    // a destination phase corrected by the clock offset can come out reversed: drawn from its earlier end
    { name: 'device start', side: 'destination', startUs: 1_500_000, endUs: 1_400_000, durationMs: -100 },
  ],
  missing: [],
};

test("QEMU's checkpoint phases without vDPA phases: placed against the primary window, each bar from its earlier end", (t) => {
  t.deepEqual(recordPhases(iterationRecord({ ...anchored, extra: { downtimePhases: checkpoints } })), [
    { name: 'downtime (vdpa)', startMs: 0, endMs: 2000, instant: false, side: 'downtime window' },
    { name: 'checkpoint: source stop', startMs: 0, endMs: 10, side: 'source', instant: false },
    { name: 'checkpoint: device start', startMs: 400, endMs: 500, side: 'destination', instant: false },
  ]);
  t.is(recordPhases(iterationRecord(anchored)), null);
  t.deepEqual(phaseNotes(iterationRecord(anchored)), []);
});

test("extra's typed parts are checked on read; another lab's own keys are kept as they are", (t) => {
  const line = (extra: unknown) => JSON.stringify({ variant: 'v', vmSize: '1G', status: 'ok', downtimeMs: 1, extra }) + '\n';
  const own = parseIterations(line({ rig: { switch: 'sw-3' } }));
  t.deepEqual(own.records[0].extra, { rig: { switch: 'sw-3' } });
  // the phases a report draws have one shape, the vDPA analysis's: a list of spans is refused, naming the field
  t.throws(() => parseIterations(line({ phases: [{ name: 'state transfer', startUs: 1, endUs: 2 }] })), { message: /line 1: extra\.phases/ });
  t.throws(() => parseIterations(line({ network: { log: 'probes/0001.txt', lost: 'many' } })), { message: /line 1: extra\.network/ });
});
