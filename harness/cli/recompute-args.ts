/**
 * The `vdpa-bench downtime` arguments that recompute one recorded migration's metric from its own
 * two trace files with the clock offset the run recorded for it: the check a lab engineer can
 * repeat by hand, used by bench/recompute-downtimes.ts and the two-host soft lab test.
 */
import { join } from 'node:path';
import type { IterationRecord } from '../results/types.ts';

/** Null when the record carries no clock offset: a cross-host span is never recomputed with an assumed offset of 0. */
export function recomputeDowntimeArgs(runDir: string, record: Pick<IterationRecord, 'traces' | 'clock'>, metric: string): string[] | null {
  if (!record.clock) return null;
  return [
    'downtime',
    '--metric',
    metric,
    '--json',
    '--source',
    join(runDir, record.traces.source),
    '--destination',
    join(runDir, record.traces.destination),
    '--clock-offset-us',
    String(record.clock.offsetUs),
  ];
}
