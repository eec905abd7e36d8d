/**
 * Typed iteration records for tests, built from a complete ok migration field by field and
 * checked against the results schema: a record a test builds is one the reader would accept, so
 * no test needs to cast a partial object to IterationRecord.
 */
import { recordedIterationSchema } from '../../harness/results/schema.ts';
import type { IterationRecord, RecordedPhases } from '../../harness/results/types.ts';

/** A measured ok migration of cell `v 1G` (runstate 100 ms), with `fields` over it; throws when the result is not a valid record. */
export function iterationRecord(fields: Partial<IterationRecord> = {}): IterationRecord {
  const record: IterationRecord = {
    seq: 1,
    block: 1,
    variant: 'v',
    vmSize: '1G',
    queuePairs: null,
    iteration: 1,
    warmup: false,
    from: 'hostA',
    to: 'hostB',
    status: 'ok',
    downtimeMs: 100,
    primaryMetric: 'runstate',
    metrics: { runstate: 100 },
    qmp: null,
    traces: { source: '', destination: '' },
    clock: { offsetUs: 0, uncertaintyUs: 0, method: 'same-machine' },
    accel: 'tcg',
    destinationQmpReadyMs: null,
    startedAt: '2026-12-01T00:00:00.000Z',
    finishedAt: '2026-12-01T00:00:01.000Z',
    ...fields,
  };
  return recordedIterationSchema.parse(record);
}

type Batch = RecordedPhases['pinning']['batches'][number];

/** One pinning batch of the vDPA analysis: `fields` over a batch of one 1 GiB map at 0 µs. */
export function pinningBatch(fields: Partial<Batch> = {}): Batch {
  return {
    beginUs: 0,
    commitUs: 0,
    durationMs: 0,
    dmaMaps: 1,
    bytes: 1024 ** 3,
    overlapsDowntime: false,
    overlapMs: 0,
    line: 1,
    ...fields,
    ...duration(fields),
  };
}

const duration = (b: Partial<Batch>) => (b.beginUs !== undefined && b.commitUs !== undefined ? { durationMs: (b.commitUs - b.beginUs) / 1000 } : {});

/** `extra.phases` of a vDPA migration with one queue pair whose 3 vrings were all enabled: its pinning from `batches`, `fields` over the rest. */
export function recordedPhases(fields: Partial<Omit<RecordedPhases, 'pinning'>> = {}, batches: Batch[] = []): RecordedPhases {
  return {
    queuePairs: 1,
    downtimeWindow: null,
    pinning: {
      batches,
      main: batches.reduce<Batch | null>((best, b) => (b.dmaMaps > 0 && (!best || b.bytes > best.bytes) ? b : best), null),
      totalDmaMaps: batches.reduce((n, b) => n + b.dmaMaps, 0),
      totalBytes: batches.reduce((n, b) => n + b.bytes, 0),
      overlapsDowntime: batches.some((b) => b.overlapsDowntime),
      overlapMs: batches.reduce((n, b) => n + b.overlapMs, 0),
    },
    driverOk: null,
    vrings: { event: 'vhost_vdpa_set_vring_enable_one', enabled: 3, expected: 3, order: [2, 0, 1], failed: [], ok: true },
    destinationQmpBlackoutMs: null,
    vdpaRule: null,
    ...fields,
  };
}
