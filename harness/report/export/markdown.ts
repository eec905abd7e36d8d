/** The Markdown report: tables with n, median, CI and p per row, and a methods section written from the data. */
import { formatP, type Comparison } from '../../stats/compare.ts';
import { interval, ms, pct, queuePairsText, rate, signedMs } from '../model/numbers.ts';
import {
  AGREEMENT_HEADER,
  agreementCells,
  agreementSentence,
  cellFigures,
  COST_HEADER,
  costCells,
  failureCells,
  failureHeader,
  metricErrorLines,
} from './tables.ts';
import { decompositionSentence, groupSentence, notMeasuredText, TRADE_OFF_HEADER, tradeOffCells } from './trade-off-text.ts';
import { methodsParagraphs } from '../model/methods.ts';
import type { Summary } from '../model/types.ts';
import { renderText } from './text.ts';

/** Table cells: pipes and line breaks would break the table; the rest is Markdown-inert enough for a report. */
const cell = (value: unknown) =>
  String(value)
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/[\r\n]+/g, ' ')
    .replace(/</g, '&lt;');

function table(header: string[], rows: unknown[][]): string {
  return [`| ${header.map(cell).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

export function comparisonCells(c: Comparison): string[] {
  return [
    `${c.nBaseline}/${c.nCandidate}`,
    ms(c.meanBaseline),
    ms(c.meanCandidate),
    `${signedMs(c.diffMeans)} (${pct(c.pctChangeMean)})`,
    `${ms(c.medianBaseline)} → ${ms(c.medianCandidate)} (${signedMs(c.diffMedians)})`,
    `${signedMs(c.hodgesLehmann.shift)} ${interval(c.hodgesLehmann.ci)} (${Math.round(c.hodgesLehmann.achievedConfidence * 1000) / 10}%)`,
    `${formatP(c.mannWhitney.p)} (${c.mannWhitney.method})`,
    c.verdict,
  ];
}

export const COMPARISON_HEADER = [
  'VM',
  'queue pairs',
  'n (base/cand)',
  'baseline mean',
  'candidate mean',
  'Δ mean',
  'median base → cand',
  'Hodges–Lehmann shift [CI] (level)',
  'p (Mann–Whitney)',
  'verdict',
];

function warningLines(summary: Summary): string[] {
  if (!summary.warnings.length) return [];
  return ['> **Warnings**', '>', ...summary.warnings.flatMap((w) => [`> - ${cell(w.message)}`, ...w.evidence.map((x) => `>   - ${cell(x)}`)]), ''];
}

function variantLines(summary: Summary): string[] {
  if (!summary.variantTable.length) return [];
  return [
    '## What differs between the variants',
    '',
    table(
      ['setting', ...summary.variants],
      summary.variantTable.map((r) => [r.setting, ...summary.variants.map((v) => r.values[v])]),
    ),
    '',
  ];
}

function comparisonLines(summary: Summary): string[] {
  if (!summary.comparisons.length) return [];
  const rows = summary.comparisons.map((row) => {
    const c = row.metrics[summary.primary];
    return [row.vmSize, queuePairsText(row.queuePairs), ...(c && !('error' in c) ? comparisonCells(c) : [c?.error ?? 'no data', '', '', '', '', '', '', ''])];
  });
  const verdicts = summary.comparisons.flatMap((row) =>
    Object.entries(row.metrics).map(
      ([metric, c]) => `- ${row.vmSize}, ${queuePairsText(row.queuePairs)}, ${metric}: ${'error' in c ? c.error : `${c.verdict} (${c.verdictReason})`}`,
    ),
  );
  return [
    `## Before/after: ${summary.settings.baseline} → ${summary.settings.candidate} (metric ${summary.primary})`,
    '',
    table(COMPARISON_HEADER, rows),
    '',
    ...verdicts,
    '',
  ];
}

/** What the change costs: the trade-off table per size, the downtime shift by phase, the cells that split. */
function tradeOffSection(summary: Summary): string[] {
  const t = summary.tradeOff;
  if (!t || !t.rows.length) return [];
  const sizes = t.rows.flatMap((row) => [
    `### ${row.vmSize}, ${queuePairsText(row.queuePairs)}`,
    '',
    table(TRADE_OFF_HEADER(summary), tradeOffCells(summary, row)),
    '',
    ...(notMeasuredText(row) ? [`${notMeasuredText(row)!}.`, ''] : []),
    `Downtime by phase: ${decompositionSentence(row, summary.primary)}.`,
    '',
  ]);
  const groups = t.groups.length
    ? [
        '### Cells with two groups',
        '',
        'No single median or mean describes these cells (the seed-form line is a mean over both groups):',
        '',
        ...t.groups.map((g) => `- ${groupSentence(g)}`),
        '',
      ]
    : [];
  return [`## What it costs: ${summary.settings.baseline} → ${summary.settings.candidate}`, '', ...sizes, ...groups];
}

function cellLines(summary: Summary): string[] {
  const rows = summary.cells.map((c) => {
    const f = cellFigures(summary, c);
    return [
      c.label,
      rate(c.counts.ok, c.counts.measured),
      c.metrics[summary.primary]?.n ?? 0,
      f.mean,
      f.median,
      f.sd,
      f.min,
      f.p95,
      f.max,
      c.outlierSeqs.join(', ') || 'none',
      c.stop?.text ?? '—',
    ];
  });
  const header = ['cell', 'success', 'n', 'mean [95% CI]', 'median [95% CI]', 'sd', 'min', 'p95', 'max', 'outliers (seq)', 'stopped'];
  return [`## Cells (metric ${summary.primary}, measured ok migrations)`, '', table(header, rows), ''];
}

function costLines(summary: Summary): string[] {
  return [
    '## Cost side (medians of measured ok migrations; QMP, source side)',
    '',
    table(
      COST_HEADER,
      summary.cells.map((c) => costCells(c, summary.primary, summary)),
    ),
    '',
  ];
}

function metricLines(summary: Summary): string[] {
  const header = ['cell', ...summary.metrics.map((m) => (m.primary ? `${m.label} (primary)` : m.label))];
  const rows = summary.cells.map((c) => [
    c.label,
    ...summary.metrics.map((m) => {
      const s = c.metrics[m.name];
      return s ? `${ms(s.median)} / ${ms(s.mean)} / ${s.n}` : '—';
    }),
  ]);
  const descriptions = summary.metrics.map((m) => `- **${cell(m.label)}**: ${cell(m.description ?? 'no description recorded for this metric')}`);
  return ['## Every metric side by side (median, mean, n)', '', table(header, rows), '', ...descriptions, ''];
}

function agreementLines(summary: Summary): string[] {
  const head = [`## Metric agreement with ${summary.primary}`, ''];
  if (summary.agreement.length === 0) return [...head, 'Only one trace metric was computed: nothing to check.', ''];
  return [
    ...head,
    agreementSentence(summary),
    '',
    table(
      AGREEMENT_HEADER,
      summary.agreement.map((a) => agreementCells(a)),
    ),
    '',
  ];
}

function failureLines(summary: Summary): string[] {
  const notOk = summary.migrations.filter((r) => r.status !== 'ok');
  const head = ['## Failed and invalid migrations', ''];
  if (notOk.length === 0) return [...head, 'None.', ''];
  return [
    ...head,
    table(
      failureHeader(summary.primary),
      notOk.map((r) => failureCells(r, summary.primary)),
    ),
    '',
  ];
}

/** The probe timeline's numbers (the HTML draws them): only when the run has probe logs. */
function probeLines(summary: Summary): string[] {
  const probes = summary.probeTimelines;
  if (!probes) return [];
  const rows = probes.panels.map((p) => {
    const longest = p.lostRuns.reduce<(typeof p.lostRuns)[number] | null>((best, r) => (!best || r.probes > best.probes ? r : best), null);
    return [
      p.label,
      p.seq,
      ms(p.primaryMs),
      `${p.lostRuns.length}`,
      longest
        ? `${longest.probes} probes, ${longest.fromMs.toFixed(1)} → ${longest.toMs.toFixed(1)} ms${longest.open ? ' (log ended inside it)' : ''}`
        : 'none',
      ms(Math.max(...p.bins.map((b) => b.maxReplyMs))),
    ];
  });
  const missing = probes.missing.map((m) => `- migration ${m.seq}${summary.runs.length > 1 ? ` of ${m.run}` : ''}: ${cell(m.reason)}`);
  return [
    '## Probes around the switchover',
    '',
    `Per cell the ok migration at the lower median of ${summary.primary} among those with a probe log; times in ms from the source freeze (the prober's CLOCK_REALTIME, not clock-corrected).`,
    '',
    table(['cell', 'migration', summary.primary, 'lost runs in the window', 'longest lost run', 'longest reply'], rows),
    '',
    ...(missing.length ? ['Migrations without a usable probe log:', '', ...missing, ''] : []),
    ...(summary.migrations.some((r) => Object.keys(r.metricErrors).some((m) => m.startsWith('network')))
      ? ['The network figures of some migrations could not be computed from their probe logs (see Metric errors).', '']
      : []),
  ];
}

/** Every metric that could not be computed, and why. */
function metricErrorSection(summary: Summary): string[] {
  const lines = metricErrorLines(summary);
  return ['## Metric errors', '', ...(lines.length ? lines.map((l) => `- ${l}`) : ['None: every metric was computed for every migration.']), ''];
}

export function renderMarkdown(summary: Summary): string {
  return [
    `# ${summary.title}`,
    '',
    '```',
    renderText(summary).trimEnd(),
    '```',
    '',
    ...warningLines(summary),
    summary.platform,
    '',
    ...variantLines(summary),
    ...comparisonLines(summary),
    ...tradeOffSection(summary),
    ...cellLines(summary),
    ...costLines(summary),
    ...metricLines(summary),
    ...agreementLines(summary),
    ...probeLines(summary),
    ...failureLines(summary),
    ...metricErrorSection(summary),
    '## Methods',
    '',
    ...methodsParagraphs(summary).flatMap((p) => [p.replace(/</g, '&lt;'), '']),
  ].join('\n');
}
