/**
 * The text summary: the lines a cover letter uses, in the seed's form
 *   - 39G VM:   4.72s -> 2.09s (-2.63s, ~56% improvement)
 * (means of the primary metric, seconds with two decimals; ms below one second, where two decimals
 * of a second would hide the change), preceded by one set-up sentence that names the metric.
 */
import type { Comparison } from '../../stats/compare.ts';
import { formatP, pPhrase } from '../../stats/compare.ts';
import { UNKNOWN, type CellGroups, type CellSummary, type ComparisonRow, type Summary } from '../model/types.ts';
import { groupLine, tradeOffLines } from './trade-off-text.ts';
import { metricErrorLines } from './tables.ts';

function amount(msValue: number, seconds: boolean): string {
  return seconds ? `${(msValue / 1000).toFixed(2)}s` : `${msValue.toFixed(1)}ms`;
}

function signed(msValue: number, seconds: boolean): string {
  const text = amount(Math.abs(msValue), seconds);
  return `${msValue < 0 ? '-' : '+'}${text}`;
}

export function setupSentence(summary: Summary): string {
  const { nic, mode } = summary.setup;
  const qps = [...new Set(summary.setup.queuePairs)];
  const counts = qps.filter((q) => q !== null);
  const qpText = counts.length === 0 ? 'no vDPA queue pairs' : `${counts.join('/')} queue-pair${counts.length === 1 && counts[0] === 1 ? '' : 's'}`;
  let hardware: string;
  if (nic === 'no NIC') hardware = 'a guest without a NIC';
  else if (nic === UNKNOWN && mode === UNKNOWN) hardware = `an unknown NIC and mode (no set-up in the manifest) with ${qpText}`;
  else if (counts.length === 0 && nic !== UNKNOWN) hardware = `a ${nic} NIC${mode === UNKNOWN ? '' : ` (${mode})`}`;
  else hardware = `${nic} NICs in ${mode} mode with ${qpText}`;
  const { baseline, candidate } = summary.settings;
  const metric = summary.metrics.find((m) => m.primary);
  const metricText = `the "${summary.primary}" metric${metric?.description ? ` (${metric.description})` : ''}`;
  const pairText = baseline && candidate ? `${baseline} -> ${candidate}` : summary.variants.join(', ');
  return `Using ${hardware}, back-to-back live migrations, ${pairText}: mean downtime by ${metricText}:`;
}

function label(row: { vmSize: string; queuePairs: number | null }, withQueuePairs: boolean): string {
  return `${row.vmSize} VM${withQueuePairs && row.queuePairs !== null ? `, ${row.queuePairs} qp` : ''}:`;
}

function comparisonLine(comparison: Comparison): string {
  const seconds = Math.max(comparison.meanBaseline, comparison.meanCandidate) >= 1000;
  const head = `${amount(comparison.meanBaseline, seconds)} -> ${amount(comparison.meanCandidate, seconds)}`;
  const diff = signed(comparison.diffMeans, seconds);
  if (comparison.pctChangeMean === null) return `${head} (${diff}, baseline mean is 0)`;
  const size = `~${Math.round(Math.abs(comparison.pctChangeMean))}%`;
  if (comparison.verdict !== 'no significant change') return `${head} (${diff}, ${size} ${comparison.verdict})`;
  // Not "improvement" or "regression": a reader quotes the word, and the test does not support it.
  const direction = comparison.diffMeans < 0 ? 'lower' : 'higher';
  return `${head} (${diff}, ${size} ${direction}, not significant: ${pPhrase(comparison.mannWhitney.p)}, n = ${comparison.nBaseline}/${comparison.nCandidate})`;
}

function singleLine(cell: CellSummary, primary: string): string {
  const stats = cell.metrics[primary];
  if (!stats) return `no ok migrations (${cell.counts.failed} failed, ${cell.counts.invalid} invalid)`;
  const seconds = stats.mean >= 1000;
  return `${amount(stats.mean, seconds)} (n = ${stats.n}, median ${amount(stats.median, seconds)})`;
}

/** The seed's lines, their uncertainty, the platform and (unless the page shows them itself) the warnings. */
export function renderText(summary: Summary, options: { warnings?: boolean } = {}): string {
  const lines = [...(summary.purpose ? [summary.purpose] : []), setupSentence(summary)];
  const multipleQp = new Set(summary.cells.map((c) => c.queuePairs)).size > 1;
  const entries: { label: string; text: string; groups: CellGroups[] }[] = [];
  const groupsOf = (...cells: string[]) => (summary.tradeOff?.groups ?? []).filter((g) => cells.includes(g.cellKey));
  if (summary.comparisons.length) {
    for (const row of summary.comparisons)
      entries.push({ label: label(row, multipleQp), text: rowText(row, summary.primary), groups: groupsOf(row.baselineCell, row.candidateCell) });
  } else {
    for (const cell of summary.cells)
      entries.push({
        label: `${summary.variants.length > 1 ? `${cell.variant} ` : ''}${label(cell, multipleQp)}`,
        text: singleLine(cell, summary.primary),
        groups: groupsOf(cell.key),
      });
  }
  const width = Math.max(0, ...entries.map((e) => e.label.length)) + 2;
  for (const e of entries) {
    // a cell in two groups keeps its seed-form line, marked, with the groups under it: the mean describes neither
    const split = e.groups.length ? ' (two groups, under this line)' : '';
    lines.push(`- ${e.label.padEnd(width)}${e.text}${split}`);
    for (const g of e.groups) lines.push(`    ${groupLine(g)}`);
  }
  const { measured, ok, failed, invalid } = summary.totals;
  if (failed + invalid > 0)
    lines.push(`(${failed + invalid} of ${measured} measured migrations failed or were invalid: ${failed} failed, ${invalid} invalid; ${ok} ok)`);
  // The seed's lines above stay exactly in its form (a cover letter copies them); what they need to be read follows.
  lines.push(
    ...uncertaintyLines(summary, multipleQp),
    ...tradeOffLines(summary),
    ...errorLines(summary),
    summary.platform,
    ...(options.warnings === false ? [] : warningLines(summary)),
  );
  return lines.join('\n') + '\n';
}

/** One line per seed-form line, in the same order: the Hodges–Lehmann shift with its interval, p and n. */
function uncertaintyLines(summary: Summary, multipleQp: boolean): string[] {
  if (!summary.comparisons.length) return [];
  const rows = summary.comparisons.map((row) => {
    const c = row.metrics[summary.primary];
    if (!c || 'error' in c) return { label: label(row, multipleQp), text: c?.error ?? 'no comparison' };
    const seconds = Math.max(c.meanBaseline, c.meanCandidate) >= 1000;
    const hl = c.hodgesLehmann;
    const level = `${(hl.achievedConfidence * 100).toFixed(1)}%`;
    const minimumP = c.mannWhitney.minimumP;
    const floor =
      minimumP !== null && minimumP >= summary.settings.alpha
        ? `; with n = ${c.nBaseline}/${c.nCandidate} the smallest attainable p is ${formatP(minimumP)}`
        : '';
    return {
      label: label(row, multipleQp),
      text: `shift ${signed(hl.shift, seconds)} [${signed(hl.ci[0], seconds)}, ${signed(hl.ci[1], seconds)}] (${level} interval), ${pPhrase(c.mannWhitney.p)}, n = ${c.nBaseline}/${c.nCandidate}${floor}`,
    };
  });
  const width = Math.max(0, ...rows.map((r) => r.label.length)) + 2;
  return [
    `Uncertainty of each line (Hodges–Lehmann shift ${summary.settings.candidate} − ${summary.settings.baseline} [interval], two-sided Mann–Whitney p, n):`,
    ...rows.map((r) => `  ${r.label.padEnd(width)}${r.text}`),
  ];
}

const EVIDENCE_LINES = 4;

/** Metrics that could not be computed: never a silent gap (the full list is in report.md and summary.json). */
function errorLines(summary: Summary): string[] {
  const lines = metricErrorLines(summary);
  if (!lines.length) return [];
  return [
    `Metric errors (${lines.length}):`,
    ...lines.slice(0, EVIDENCE_LINES).map((l) => `  ${l}`),
    ...(lines.length > EVIDENCE_LINES ? [`  (and ${lines.length - EVIDENCE_LINES} more in report.md and summary.json)`] : []),
  ];
}

function warningLines(summary: Summary): string[] {
  if (!summary.warnings.length) return ['Warnings: none.'];
  const out = [`Warnings (${summary.warnings.length}):`];
  for (const w of summary.warnings) {
    out.push(`! ${w.message}`);
    for (const line of w.evidence.slice(0, EVIDENCE_LINES)) out.push(`    ${line}`);
    if (w.evidence.length > EVIDENCE_LINES) out.push(`    (and ${w.evidence.length - EVIDENCE_LINES} more in report.md and summary.json)`);
  }
  return out;
}

function rowText(row: ComparisonRow, primary: string): string {
  const result = row.metrics[primary];
  if (!result || 'error' in result) return result?.error ?? 'no comparison';
  return comparisonLine(result);
}
