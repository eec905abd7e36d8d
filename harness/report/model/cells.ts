/** Step of the report model: per cell counts, statistics (only where n supports them), cost side and outliers. */
import { cellLabel } from '../../profile/cell.ts';
import { bootstrapMeanMedian, type BootstrapSettings } from '../../stats/bootstrap.ts';
import { describe, median } from '../../stats/describe.ts';
import { twoGroups } from '../../stats/groups.ts';
import { outlierIndexes } from '../../stats/outliers.ts';
import { parseSize } from '../../profile/size.ts';
import { MIN_N_FOR_INTERVAL, type CellStop, type CellSummary, type MetricInfo, type MetricStats, type MigrationCost, type MigrationRow } from './types.ts';

export function sizeOrder(size: string): number {
  try {
    return parseSize(size);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** n, mean, median, sd, min, max always; p95 and the bootstrap intervals only from MIN_N_FOR_INTERVAL values on. */
export function statsOf(values: number[], bootstrap: BootstrapSettings): MetricStats | null {
  if (values.length === 0) return null;
  const intervals = values.length >= MIN_N_FOR_INTERVAL;
  const ci = intervals ? bootstrapMeanMedian(values, bootstrap) : null;
  const d = describe(values);
  return { ...d, p95: intervals ? d.p95 : null, meanCI: ci?.mean ?? null, medianCI: ci?.median ?? null, intervals };
}

const COST_KEYS: (keyof MigrationCost)[] = ['totalTimeMs', 'transferredBytes', 'downtimeBytes', 'dirtySyncCount'];

export interface CellInput {
  rows: MigrationRow[];
  metrics: MetricInfo[];
  primary: string;
  variants: string[];
  bootstrap: BootstrapSettings;
  downtimeLimits: Record<string, number>;
  stopOf: (run: string, label: string) => CellStop | null;
}

export function cellSummaries(input: CellInput): CellSummary[] {
  const { rows, primary, variants } = input;
  const firsts = [...new Map(rows.map((r) => [r.cell, r])).values()].sort(
    (a, b) =>
      variants.indexOf(a.variant) - variants.indexOf(b.variant) ||
      sizeOrder(a.vmSize) - sizeOrder(b.vmSize) ||
      a.vmSize.localeCompare(b.vmSize) ||
      (a.queuePairs ?? -1) - (b.queuePairs ?? -1),
  );
  return firsts.map((first) => {
    const inCell = rows.filter((r) => r.cell === first.cell);
    const measured = inCell.filter((r) => !r.warmup);
    const ok = measured.filter((r) => r.status === 'ok');
    const metrics: Record<string, MetricStats | null> = {};
    for (const m of input.metrics)
      metrics[m.name] = statsOf(
        ok.map((r) => r.values[m.name]).filter((v): v is number => v !== null),
        input.bootstrap,
      );
    const cost = Object.fromEntries(
      COST_KEYS.map((k) => {
        const values = ok.map((r) => r.cost[k]).filter((v): v is number => v !== null);
        return [k, values.length ? median(values) : null];
      }),
    ) as CellSummary['cost'];
    const primaryRows = ok.filter((r) => r.values[primary] !== null);
    const primaryValues = primaryRows.map((r) => r.values[primary]!);
    for (const i of cellOutliers(primaryValues)) primaryRows[i].outlier = true;
    return {
      key: first.cell,
      label: cellLabel(first),
      variant: first.variant,
      vmSize: first.vmSize,
      queuePairs: first.queuePairs,
      counts: {
        measured: measured.length,
        ok: ok.length,
        failed: measured.filter((r) => r.status === 'failed').length,
        invalid: measured.filter((r) => r.status === 'invalid').length,
        warmup: inCell.length - measured.length,
        warmupNotOk: inCell.filter((r) => r.warmup && r.status !== 'ok').length,
      },
      successRate: measured.length ? ok.length / measured.length : null,
      metrics,
      cost,
      downtimeLimitMs: input.downtimeLimits[first.variant] ?? null,
      outlierSeqs: primaryRows.filter((r) => r.outlier).map((r) => r.seq),
      disagreementSeqs: ok.filter((r) => r.disagreements.length).map((r) => r.seq),
      representativeSeq: representative(primaryRows, primary),
      stop: input.stopOf(first.run, cellLabel(first)),
    };
  });
}

/**
 * Indexes of a cell's outliers. A cell in two groups (the report's two-groups warning, the same
 * split) is judged group by group: against the cell's median every member of the smaller group is
 * "far out", which says again that there are two groups, not that a migration is odd within its own.
 */
export function cellOutliers(values: number[]): number[] {
  const split = twoGroups(values, MIN_N_FOR_INTERVAL)?.split;
  if (split === undefined) return outlierIndexes(values);
  return [true, false].flatMap((low) => {
    const members = values.flatMap((v, i) => (v < split === low ? [i] : []));
    return outlierIndexes(members.map((i) => values[i])).map((j) => members[j]);
  });
}

/** The ok migration closest to the cell's median, preferring ones that carry phases (the timeline shows it). */
function representative(primaryRows: MigrationRow[], primary: string): number | null {
  if (!primaryRows.length) return null;
  const mid = median(primaryRows.map((r) => r.values[primary]!));
  const withPhases = primaryRows.filter((r) => r.phases);
  const pool = withPhases.length ? withPhases : primaryRows;
  return pool.reduce((best, r) => (Math.abs(r.values[primary]! - mid) < Math.abs(best.values[primary]! - mid) ? r : best)).seq;
}
