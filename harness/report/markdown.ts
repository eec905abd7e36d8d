/** The Markdown report: tables with n, median, CI and p per row, and a methods section written from the data. */
import { formatP, type Comparison } from '../stats/compare.ts';
import {
  AGREEMENT_HEADER,
  agreementCells,
  agreementSentence,
  ciText,
  COST_HEADER,
  costCells,
  interval,
  ms,
  pct,
  queuePairsText,
  rate,
  signedMs,
} from './format.ts';
import { methodsParagraphs } from './methods.ts';
import { SMALL_N_TEXT, type Summary } from './summary.ts';
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

export function renderMarkdown(summary: Summary): string {
  const out: string[] = [`# ${summary.title}`, '', '```', renderText(summary).trimEnd(), '```', ''];
  if (summary.warnings.length)
    out.push('> **Warnings**', '>', ...summary.warnings.flatMap((w) => [`> - ${cell(w.message)}`, ...w.evidence.map((x) => `>   - ${cell(x)}`)]), '');
  out.push(summary.platform, '');
  if (summary.variantTable.length) {
    out.push(
      '## What differs between the variants',
      '',
      table(
        ['setting', ...summary.variants],
        summary.variantTable.map((r) => [r.setting, ...summary.variants.map((v) => r.values[v])]),
      ),
      '',
    );
  }

  const primaryLabel = summary.primary;
  if (summary.comparisons.length) {
    out.push(`## Before/after: ${summary.settings.baseline} → ${summary.settings.candidate} (metric ${primaryLabel})`, '');
    out.push(
      table(
        COMPARISON_HEADER,
        summary.comparisons.map((row) => {
          const c = row.metrics[summary.primary];
          return [
            row.vmSize,
            queuePairsText(row.queuePairs),
            ...(c && !('error' in c) ? comparisonCells(c) : [c?.error ?? 'no data', '', '', '', '', '', '', '']),
          ];
        }),
      ),
      '',
    );
    for (const row of summary.comparisons) {
      for (const [metric, c] of Object.entries(row.metrics))
        out.push(`- ${row.vmSize}, ${queuePairsText(row.queuePairs)}, ${metric}: ${'error' in c ? c.error : `${c.verdict} (${c.verdictReason})`}`);
    }
    out.push('');
  }

  out.push(`## Cells (metric ${primaryLabel}, measured ok migrations)`, '');
  out.push(
    table(
      ['cell', 'success', 'n', 'mean [95% CI]', 'median [95% CI]', 'sd', 'min', 'p95', 'max', 'outliers (seq)', 'stopped'],
      summary.cells.map((c) => {
        const s = c.metrics[summary.primary];
        return [
          c.label,
          rate(c.counts.ok, c.counts.measured),
          s?.n ?? 0,
          s ? `${ms(s.mean)} ${ciText(s.meanCI, s.intervals)}` : '—',
          s ? `${ms(s.median)} ${ciText(s.medianCI, s.intervals)}` : '—',
          ms(s?.sd),
          ms(s?.min),
          s?.intervals ? ms(s.p95) : SMALL_N_TEXT,
          ms(s?.max),
          c.outlierSeqs.join(', ') || 'none',
          c.stop?.text ?? '—',
        ];
      }),
    ),
    '',
  );
  out.push('## Cost side (medians of measured ok migrations; QMP, source side)', '');
  out.push(
    table(
      COST_HEADER,
      summary.cells.map((c) => costCells(c, summary.primary)),
    ),
    '',
  );

  out.push('## Every metric side by side (median, mean, n)', '');
  out.push(
    table(
      ['cell', ...summary.metrics.map((m) => (m.primary ? `${m.label} (primary)` : m.label))],
      summary.cells.map((c) => [
        c.label,
        ...summary.metrics.map((m) =>
          c.metrics[m.name] ? `${ms(c.metrics[m.name]!.median)} / ${ms(c.metrics[m.name]!.mean)} / ${c.metrics[m.name]!.n}` : '—',
        ),
      ]),
    ),
    '',
  );
  for (const m of summary.metrics) out.push(`- **${cell(m.label)}**: ${cell(m.description ?? 'no description recorded for this metric')}`);
  out.push('');

  out.push(`## Metric agreement with ${summary.primary}`, '');
  if (summary.agreement.length === 0) out.push('Only one trace metric was computed: nothing to check.', '');
  else
    out.push(
      agreementSentence(summary),
      '',
      table(
        AGREEMENT_HEADER,
        summary.agreement.map((a) => agreementCells(a)),
      ),
      '',
    );
  const notOk = summary.migrations.filter((r) => r.status !== 'ok');
  out.push('## Failed and invalid migrations', '');
  if (notOk.length === 0) out.push('None.', '');
  else
    out.push(
      table(
        ['seq', 'cell', 'iteration', 'status', `measured ${summary.primary}`, 'reason'],
        notOk.map((r) => [
          r.seq,
          `${r.variant} ${r.vmSize}`,
          r.warmup ? `warm-up ${r.iteration}` : r.iteration,
          r.status,
          ms(r.values[summary.primary]),
          r.reason ?? 'unknown',
        ]),
      ),
      '',
    );

  out.push('## Methods', '', ...methodsParagraphs(summary).flatMap((p) => [p.replace(/</g, '&lt;'), '']));
  return out.join('\n');
}
