/** Table rows the Markdown and HTML reports share (pure): the same columns in both formats. */
import { ciText, ms, signedMs, bytes } from '../model/numbers.ts';
import { SMALL_N_TEXT, type AgreementRow, type CellSummary, type MigrationRow, type Summary } from '../model/types.ts';

export const COST_HEADER = ['cell', 'downtime (median)', 'downtime-limit', 'total time', 'bytes transferred', 'bytes sent while stopped', 'dirty-sync rounds'];

/** The cell's two groups, when its primary splits (the split the two-groups warning names). */
export const cellGroupsOf = (summary: Summary, cell: CellSummary) => summary.tradeOff?.groups.find((g) => g.cellKey === cell.key)?.groups ?? null;

const NO_SINGLE_FIGURE = '— (two groups)';

/**
 * A cell's mean, median, sd, min, p95 and max of the primary, as the cells tables show them. A cell
 * in two groups gets no single mean, median, sd or p95: its median column gives each group.
 */
export function cellFigures(summary: Summary, c: CellSummary): { mean: string; median: string; sd: string; min: string; p95: string; max: string } {
  const s = c.metrics[summary.primary];
  const g = cellGroupsOf(summary, c);
  const p95 = s && !s.intervals ? SMALL_N_TEXT : ms(s?.p95);
  if (s && g)
    return {
      mean: NO_SINGLE_FIGURE,
      median: `two groups: ${ms(g.low.median)} (n = ${g.low.n}, ${ms(g.low.min)}–${ms(g.low.max)}) and ${ms(g.high.median)} (n = ${g.high.n}, ${ms(g.high.min)}–${ms(g.high.max)}), split at ${ms(g.split)}`,
      sd: NO_SINGLE_FIGURE,
      min: ms(s.min),
      p95: s.intervals ? NO_SINGLE_FIGURE : p95,
      max: ms(s.max),
    };
  return {
    mean: s ? `${ms(s.mean)} ${ciText(s.meanCI, s.intervals)}` : '—',
    median: s ? `${ms(s.median)} ${ciText(s.medianCI, s.intervals)}` : '—',
    sd: ms(s?.sd),
    min: ms(s?.min),
    p95,
    max: ms(s?.max),
  };
}

export function costCells(c: CellSummary, primary?: string, summary?: Summary): string[] {
  const median = primary ? c.metrics[primary]?.median : Object.values(c.metrics)[0]?.median;
  const g = summary ? cellGroupsOf(summary, c) : null;
  return [
    c.label,
    g ? `two groups: ${ms(g.low.median)} and ${ms(g.high.median)}` : ms(median),
    c.downtimeLimitMs === null ? '—' : `${c.downtimeLimitMs} ms`,
    ms(c.cost.totalTimeMs),
    bytes(c.cost.transferredBytes),
    bytes(c.cost.downtimeBytes),
    c.cost.dirtySyncCount === null ? '—' : String(c.cost.dirtySyncCount),
  ];
}

export const AGREEMENT_HEADER = [
  'metric',
  'n',
  'mean difference (metric − primary)',
  'limits of agreement (±1.96 sd)',
  'the pair',
  'migrations outside tolerance and limits',
];

export function agreementCells(a: AgreementRow): string[] {
  return [
    a.metric,
    String(a.n),
    a.meanDiffMs === null ? '—' : signedMs(a.meanDiffMs),
    a.limits ? `[${signedMs(a.limits[0])}, ${signedMs(a.limits[1])}]` : '—',
    a.verdict,
    a.flaggedSeqs.length ? a.flaggedSeqs.join(', ') : 'none',
  ];
}

export function agreementSentence(summary: Summary): string {
  const s = summary.settings;
  return `Each metric against ${summary.primary} on measured ok migrations: its systematic offset (mean difference) and limits of agreement are shown once per pair; each pair is judged once against a tolerance of ${s.agreementToleranceMs} ms + ${s.disagreementTolerancePct}% of the primary (agrees, steady offset, or varies apart), and a migration is flagged only when its difference lies outside both that tolerance and the pair's limits of agreement. QMP's source-side downtime is checked as a lower bound of the trace span instead (a warning when it exceeds the span plus the clock uncertainty).`;
}

/** The failures table, the same in Markdown and HTML: what was left out of the statistics, at its measured value. */
export const failureHeader = (primary: string) => ['seq', 'cell', 'iteration', 'status', `measured ${primary}`, 'reason'];

export function failureCells(r: MigrationRow, primary: string): string[] {
  return [
    String(r.seq),
    `${r.variant} ${r.vmSize}`,
    r.warmup ? `warm-up ${r.iteration}` : String(r.iteration),
    r.status,
    ms(r.values[primary]),
    r.reason ?? 'unknown',
  ];
}

/** A migration's metric where its value would be: the value, or why there is none. */
export function valueOrError(row: MigrationRow, metric: string): string {
  const value = row.values[metric];
  if (value !== null && value !== undefined) return ms(value);
  return row.metricErrors[metric] ? `error: ${row.metricErrors[metric]}` : '—';
}

/** Every metric that could not be computed, one line per migration and reason (metrics with the same reason together). */
export function metricErrorLines(summary: Summary): string[] {
  return summary.migrations.flatMap((r) => {
    const byReason = new Map<string, string[]>();
    for (const [metric, reason] of Object.entries(r.metricErrors)) byReason.set(reason, [...(byReason.get(reason) ?? []), metric]);
    return [...byReason].map(
      ([reason, metrics]) => `migration ${r.seq} (${r.variant} ${r.vmSize}, ${r.status}${r.warmup ? ', warm-up' : ''}): ${metrics.join(', ')}: ${reason}`,
    );
  });
}

/** The clock offset applied to a migration and its uncertainty, e.g. "+3 247.5 ms ± 3.5 ms". */
export function clockText(row: MigrationRow): string {
  if (row.clockOffsetUs === null) return 'not measured';
  const offset = `${row.clockOffsetUs >= 0 ? '+' : '-'}${(Math.abs(row.clockOffsetUs) / 1000).toFixed(1)} ms`;
  return row.clockUncertaintyUs === null ? offset : `${offset} ± ${(row.clockUncertaintyUs / 1000).toFixed(1)} ms`;
}
