/** Before/after within a report (pure): which pair of variants is compared, and per VM size and queue pairs every metric's comparison. */
import { cellKey } from '../../profile/cell.ts';
import { compareSamples } from '../../stats/compare.ts';
import { okValues } from './rows.ts';
import type { ReportSettings } from './settings.ts';
import type { CellSummary, ComparisonRow, MetricInfo, MigrationRow, ReportWarning } from './types.ts';

export interface Pair {
  baseline: string;
  candidate: string;
  source: string;
}

export function choosePair(variants: string[], settings: ReportSettings, warnings: ReportWarning[]): Pair | null {
  const wantedBaseline = settings.baseline ?? variants[0];
  const wantedCandidate = settings.candidate ?? variants.find((v) => v !== wantedBaseline);
  const configured = settings.baseline !== undefined || settings.candidate !== undefined;
  const missing = [wantedBaseline, wantedCandidate].filter((v) => v !== undefined && !variants.includes(v));
  if (missing.length) {
    warnings.push({
      kind: 'comparison',
      message: `compare: variant ${missing.map((v) => `"${v}"`).join(' and ')} has no migrations in this run: no before/after comparison`,
      evidence: [],
    });
    return null;
  }
  if (wantedBaseline !== undefined && wantedCandidate !== undefined && wantedBaseline !== wantedCandidate) {
    return {
      baseline: wantedBaseline,
      candidate: wantedCandidate,
      source: configured
        ? 'profile compare: {baseline, candidate}'
        : `default: the first two variants in ${settings.variantOrder.length ? 'profile order' : 'the order they appear in the data'}`,
    };
  }
  if (variants.length < 2) warnings.push({ kind: 'comparison', message: 'one variant only: no before/after comparison', evidence: [] });
  return null;
}

/** What a summary compares: the cells, the migrations they hold and the metrics measured on them. */
export interface SummaryTables {
  cells: CellSummary[];
  rows: MigrationRow[];
  metrics: MetricInfo[];
}

export function comparisonsOf(pair: Pair | null, { cells, rows, metrics }: SummaryTables, settings: ReportSettings): ComparisonRow[] {
  if (!pair) return [];
  const groups = [...new Map(cells.map((c) => [`${c.vmSize}|${c.queuePairs}`, c])).values()];
  const out: ComparisonRow[] = [];
  for (const group of groups) {
    const find = (variant: string) => cells.find((c) => c.variant === variant && c.vmSize === group.vmSize && c.queuePairs === group.queuePairs);
    const base = find(pair.baseline);
    const cand = find(pair.candidate);
    if (!base && !cand) continue;
    const row: ComparisonRow = {
      vmSize: group.vmSize,
      queuePairs: group.queuePairs,
      baseline: pair.baseline,
      candidate: pair.candidate,
      baselineCell: base?.key ?? cellKey({ variant: pair.baseline, vmSize: group.vmSize, queuePairs: group.queuePairs }),
      candidateCell: cand?.key ?? cellKey({ variant: pair.candidate, vmSize: group.vmSize, queuePairs: group.queuePairs }),
      metrics: {},
    };
    for (const m of metrics) {
      const b = okValues(
        rows.filter((r) => r.cell === row.baselineCell),
        m.name,
      );
      const c = okValues(
        rows.filter((r) => r.cell === row.candidateCell),
        m.name,
      );
      if (b.length === 0 || c.length === 0)
        row.metrics[m.name] = { error: `no ok ${m.name} values for ${b.length === 0 ? pair.baseline : pair.candidate} at ${group.vmSize}` };
      else row.metrics[m.name] = compareSamples(b, c, { alpha: settings.alpha, noiseThresholdPct: settings.noiseThresholdPct });
    }
    out.push(row);
  }
  return out;
}
