/**
 * The engine's view of adaptive sampling: per cell, the measured downtimes so far and whether
 * the cell is done; afterwards, what the manifest records about why each cell stopped.
 */
import type { CellSampling } from '../migration/interfaces.ts';
import { cellKey, cellLabel, cellOf, type Cell } from '../profile/cell.ts';
import type { CellStopRecord, IterationRecord, RunManifest } from '../results/types.ts';
import { shouldStop, type PrecisionTarget, type StopReason } from './precision.ts';

export type CellStop = CellStopRecord;
export type SamplingManifest = NonNullable<RunManifest['sampling']>;

export class AdaptiveSampler implements CellSampling {
  private readonly cells = new Map<string, { cell: Cell; attempts: number; values: number[]; reason?: StopReason }>();

  constructor(readonly target: PrecisionTarget) {}

  private state(cell: Cell) {
    const key = cellKey(cell);
    let s = this.cells.get(key);
    if (!s) this.cells.set(key, (s = { cell, attempts: 0, values: [] }));
    return s;
  }

  isDone(cell: Cell): boolean {
    return this.state(cell).reason !== undefined;
  }

  recorded(record: IterationRecord): void {
    if (record.warmup) return;
    const s = this.state(cellOf(record));
    s.attempts++;
    if (record.status === 'ok' && record.downtimeMs !== null) s.values.push(record.downtimeMs);
    const decision = shouldStop(s.values, s.attempts, this.target);
    if (decision.stop) s.reason = decision.reason;
  }

  /** Cells that ran out of schedule without a decision stopped for the run's reason. */
  manifest(unfinished: StopReason): SamplingManifest {
    return {
      mode: 'adaptive',
      target: this.target,
      cells: [...this.cells.values()].map((s) => cellStop(s.cell, s.attempts, s.values, s.reason ?? unfinished)),
    };
  }
}

export function cellStop(cell: Cell, measured: number, values: number[], reason: StopReason): CellStop {
  const interval = shouldStop(values, measured, { medianCiHalfWidthPct: 0, minIterations: 1, maxIterations: Infinity }).interval;
  return {
    cell: cellLabel(cell),
    measured,
    usable: values.length,
    reason,
    medianMs: values.length ? interval.median : null,
    ciHalfWidthPct: interval.halfWidthPct === null ? null : Math.round(interval.halfWidthPct * 100) / 100,
  };
}

/** For a fixed-count run: each cell stopped at its count, with the precision it reached. */
export function fixedSamplingManifest(records: readonly IterationRecord[]): SamplingManifest {
  const cells = new Map<string, { cell: Cell; measured: number; values: number[] }>();
  for (const r of records) {
    if (r.warmup) continue;
    const cell = cellOf(r);
    const key = cellKey(cell);
    const s = cells.get(key) ?? { cell, measured: 0, values: [] };
    cells.set(key, s);
    s.measured++;
    if (r.status === 'ok' && r.downtimeMs !== null) s.values.push(r.downtimeMs);
  }
  return { mode: 'fixed', cells: [...cells.values()].map((s) => cellStop(s.cell, s.measured, s.values, 'fixed-count')) };
}
