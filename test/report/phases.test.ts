import test from 'ava';
import { phaseNotes, recordPhases } from '../../harness/report/phases.ts';
import type { IterationRecord } from '../../harness/results/types.ts';

const base = {
  primaryMetric: 'vdpa',
  metricAnchors: {
    vdpa: {
      start: { event: 'vhost_vdpa_suspend', timeUs: 1_000_000, line: 1 },
      end: { event: 'vhost_vdpa_set_vring_enable_one', timeUs: 3_000_000, line: 9 },
      fallback: false,
    },
  },
} as unknown as IterationRecord;

test('phases from the vDPA analysis: window, pinning batches, DRIVER_OK on the freeze-relative axis; the rest as notes', (t) => {
  const record = {
    ...base,
    extra: {
      phases: {
        downtimeWindow: { metric: 'vdpa', startUs: 1_000_000, endUs: 3_000_000 },
        pinning: {
          batches: [
            { beginUs: 1_100_000, commitUs: 2_500_000, dmaMaps: 2, bytes: 39 * 1024 ** 3, overlapMs: 1400 },
            { beginUs: 900_000, commitUs: 900_100, dmaMaps: 0, bytes: 0, overlapMs: 0 },
          ],
        },
        driverOk: { timeUs: 2_960_000 },
        vrings: { enabled: 16, expected: 17, ok: false, problem: '16 vrings enabled on the destination, expected 17 for 8 queue pairs (missing idx 15)' },
        destinationQmpBlackoutMs: 212,
      },
    },
  } as unknown as IterationRecord;
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

test('phases as a list of named spans and instants; nothing usable gives null', (t) => {
  const record = {
    ...base,
    extra: {
      phases: [
        { name: 'state transfer', startUs: 1_000_000, endUs: 1_200_000, side: 'source' },
        { name: 'DRIVER_OK', atUs: 2_900_000 },
        { name: 'no times' },
        'junk',
      ],
    },
  } as unknown as IterationRecord;
  t.deepEqual(recordPhases(record), [
    { name: 'downtime (vdpa)', startMs: 0, endMs: 2000, instant: false, side: 'downtime window' },
    { name: 'state transfer', startMs: 0, endMs: 200, side: 'source', instant: false },
    { name: 'DRIVER_OK', startMs: 1900, endMs: 1900, side: undefined, instant: true },
  ]);
  t.is(recordPhases({ ...base, extra: { phases: [{ name: 'no times' }] } } as unknown as IterationRecord), null);
  t.is(recordPhases({ ...base } as IterationRecord), null);
});
