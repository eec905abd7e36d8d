/** Table rows the Markdown and HTML reports share (pure): the same columns in both formats. */
import { ms, signedMs, bytes } from '../model/numbers.ts';
import type { AgreementRow, CellSummary, MigrationRow, Summary } from '../model/types.ts';

export const COST_HEADER = ['cell', 'downtime (median)', 'downtime-limit', 'total time', 'bytes transferred', 'bytes sent while stopped', 'dirty-sync rounds'];

export function costCells(c: CellSummary, primary?: string): string[] {
  const median = primary ? c.metrics[primary]?.median : Object.values(c.metrics)[0]?.median;
  return [
    c.label,
    ms(median),
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
