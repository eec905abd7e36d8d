/** Step of the report model: one row per migration, every metric and the cost side at its measured value. */
import { cellKey } from '../../profile/cell.ts';
import type { IterationRecord } from '../../results/types.ts';
import { finite, UNKNOWN, type MetricInfo, type MigrationCost, type MigrationRow, type RunData } from './types.ts';
import { phaseNotes, recordPhases } from './phases.ts';
import { metricValue } from './run-info.ts';

export function migrationCost(record: IterationRecord): MigrationCost {
  const ram = record.qmp?.ram;
  return {
    totalTimeMs: finite(record.qmp?.totalTimeMs),
    transferredBytes: finite(ram?.transferredBytes),
    downtimeBytes: finite(ram?.downtimeBytes),
    dirtySyncCount: finite(ram?.dirtySyncCount),
  };
}

/** Rows in run order (run, then seq). Invalid migrations keep their measured values: they are drawn and listed, never zeroed. */
export function migrationRows(records: IterationRecord[], runs: RunData[], metrics: MetricInfo[], runOf: (r: IterationRecord) => number): MigrationRow[] {
  const ordered = [...records].sort((a, b) => runOf(a) - runOf(b) || a.seq - b.seq);
  return ordered.map((r) => ({
    seq: r.seq,
    run: runs[runOf(r)]?.runId ?? UNKNOWN,
    block: r.block,
    cell: cellKey(r),
    variant: r.variant,
    vmSize: r.vmSize,
    queuePairs: r.queuePairs ?? null,
    iteration: r.iteration,
    warmup: Boolean(r.warmup),
    status: r.status,
    reason: r.reason ?? null,
    from: r.from,
    to: r.to,
    startedAt: r.startedAt ?? null,
    values: Object.fromEntries(metrics.map((m) => [m.name, metricValue(r, m.name)])),
    cost: migrationCost(r),
    outlier: false,
    disagreements: [],
    clockUncertaintyUs: typeof r.clock?.uncertaintyUs === 'number' ? r.clock.uncertaintyUs : null,
    clockOffsetUs: typeof r.clock?.offsetUs === 'number' && r.clock.method !== 'unmeasured' ? r.clock.offsetUs : null,
    metricErrors: { ...r.metricErrors },
    phases: recordPhases(r),
    phaseNotes: phaseNotes(r),
  }));
}

/** Measured ok values of a metric in some rows. */
export const okValues = (rows: MigrationRow[], metric: string): number[] =>
  rows.filter((r) => !r.warmup && r.status === 'ok' && r.values[metric] !== null && r.values[metric] !== undefined).map((r) => r.values[metric]!);
