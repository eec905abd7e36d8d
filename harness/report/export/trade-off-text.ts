/**
 * The trade-off block in words and table cells (pure), shared by the text, Markdown and HTML
 * renderers: each format lays out the same phrases, so the four outputs cannot disagree.
 */
import { interval, ms, signedMs } from '../model/numbers.ts';
import type { CellGroups, SampleFigures, Summary, TradeOffFigure, TradeOffRow } from '../model/types.ts';

/** What the seed's cover letter says of the drawback, quoted beside the measured QMP figures. */
export const SEED_QMP_CLAIM = 'the seed reports about 0.2 s on ConnectX-6 Dx';
const QMP_KEYS = new Set(['destinationGreetingMs', 'destinationFirstAnswerMs']);

export function sampleText(s: SampleFigures | null): string {
  if (!s) return '—';
  return `${ms(s.median)} (${s.n === 1 ? ms(s.min) : `${ms(s.min)}–${ms(s.max)}`}, n = ${s.n})`;
}

export function shiftText(f: TradeOffFigure): string {
  if (!f.shift) return f.error ?? '—';
  return `${signedMs(f.shift.shift)} ${interval(f.shift.ci)}`;
}

export const TRADE_OFF_HEADER = (s: Summary) => [
  'figure',
  `${s.settings.baseline} median (range, n)`,
  `${s.settings.candidate} median (range, n)`,
  'shift [interval]',
];

/** One table row per figure: the primary's shift first (from the comparison), then the costs. */
export function tradeOffCells(summary: Summary, row: TradeOffRow): string[][] {
  const comparison = summary.comparisons.find((c) => c.vmSize === row.vmSize && c.queuePairs === row.queuePairs)?.metrics[summary.primary];
  const split = (cell: string | undefined) => summary.tradeOff?.groups.find((g) => g.cellKey === cell);
  const center = (cell: string | undefined, median: number, n: number) => {
    const g = split(cell)?.groups;
    return g ? `two groups: ${ms(g.low.median)} (n = ${g.low.n}) and ${ms(g.high.median)} (n = ${g.high.n})` : `${ms(median)} (n = ${n})`;
  };
  const cells = summary.comparisons.find((c) => c.vmSize === row.vmSize && c.queuePairs === row.queuePairs);
  const downtime =
    comparison && !('error' in comparison)
      ? [
          [
            `downtime (${summary.primary})`,
            center(cells?.baselineCell, comparison.medianBaseline, comparison.nBaseline),
            center(cells?.candidateCell, comparison.medianCandidate, comparison.nCandidate),
            `${signedMs(comparison.hodgesLehmann.shift)} ${interval(comparison.hodgesLehmann.ci)}`,
          ],
        ]
      : [];
  return [
    ...downtime,
    ...measuredFigures(row).map((f) => [
      f.label,
      sampleText(f.baseline),
      sampleText(f.candidate),
      // the seed's figure is of a vDPA NIC: beside another NIC's start-up it would compare unlike things
      shiftText(f) + (QMP_KEYS.has(f.key) && f.shift && row.queuePairs !== null ? ` (${SEED_QMP_CLAIM})` : ''),
    ]),
  ];
}

/** Figures at least one side measured; the others are named once (notMeasuredText), not as rows of dashes. */
export const measuredFigures = (row: TradeOffRow) => row.figures.filter((f) => f.baseline || f.candidate);

export function notMeasuredText(row: TradeOffRow): string | null {
  const none = row.figures.filter((f) => !f.baseline && !f.candidate);
  return none.length ? `not measured on either side: ${none.map((f) => `${f.label} (${f.error?.replace(/^[^:]*: /, '') ?? 'no values'})`).join('; ')}` : null;
}

/** "Of the mean shift −3.49 s [..]: pinning −3.45 s [..], …": the phases whose means moved, largest first. */
export function decompositionSentence(row: TradeOffRow, primary: string): string {
  const d = row.decomposition;
  if (!d) return `the ${primary} shift cannot be decomposed: a side has no migration with its window attributed`;
  const moved = d.parts.filter((p) => p.meanBaseline !== 0 || p.meanCandidate !== 0).sort((a, b) => Math.abs(b.shift) - Math.abs(a.shift));
  const parts = moved.map((p) => `${p.part} ${signedMs(p.shift)} ${interval(p.ci)}`);
  const derived = row.derivedAttributions ? ` (${row.derivedAttributions} migrations' phases derived from their records)` : '';
  return `of the mean ${primary} shift ${signedMs(d.total.shift)} ${interval(d.total.ci)}: ${parts.join(', ')}${derived}`;
}

/** "before 512M: 4 at 324.0 ms–1.37 s (median …), 4 at …; split at …; the low group's pinning 0.11–1.10 s, the high group's 5.85–7.40 s". */
export function groupSentence(g: CellGroups): string {
  const { low, high, split } = g.groups;
  const side = (x: typeof low) => `${x.n} at ${ms(x.min)}–${ms(x.max)} (median ${ms(x.median)})`;
  const why = g.explainedBy
    ? `; what differs is ${g.explainedBy.phase}: ${ms(g.explainedBy.low[0])}–${ms(g.explainedBy.low[1])} in the fast group, ${ms(g.explainedBy.high[0])}–${ms(g.explainedBy.high[1])} in the slow one`
    : '';
  return `${g.cell}: ${side(low)} and ${side(high)}, split at ${ms(split)}${why}`;
}

/** Under a seed-form line: one variant's two groups, without the explanation (that is in the block below). */
export function groupLine(g: CellGroups): string {
  const { low, high, split } = g.groups;
  return `${g.variant}: ${low.n} at ${ms(low.min)}–${ms(low.max)} (median ${ms(low.median)}), ${high.n} at ${ms(high.min)}–${ms(high.max)} (median ${ms(high.median)}), split at ${ms(split)}`;
}

/** The block as plain lines (text and Markdown lists). */
export function tradeOffLines(summary: Summary): string[] {
  const t = summary.tradeOff;
  if (!t || !t.rows.length) return [];
  const lines = [
    `What it costs (${summary.settings.candidate} − ${summary.settings.baseline}: Hodges–Lehmann shift [interval]; median, range and n per variant):`,
  ];
  for (const row of t.rows) {
    lines.push(`  ${row.vmSize} VM${row.queuePairs !== null && new Set(t.rows.map((r) => r.queuePairs)).size > 1 ? `, ${row.queuePairs} qp` : ''}:`);
    const cells = tradeOffCells(summary, row);
    const width = Math.max(...cells.map((c) => c[0].length)) + 2;
    for (const c of cells) lines.push(`    ${c[0].padEnd(width)}${c[3]}   (${c[1]} → ${c[2]})`);
    const none = notMeasuredText(row);
    if (none) lines.push(`    ${none}`);
    lines.push(`    ${decompositionSentence(row, summary.primary)}`);
  }
  if (t.groups.length) {
    lines.push('Two groups (no single median or mean describes these cells; the seed-form line above is a mean over both):');
    for (const g of t.groups) lines.push(`  ${groupSentence(g)}`);
  }
  return lines;
}
