/**
 * The HTML report: one self-contained file. Charts are Vega-Lite specs rendered to SVG here, at
 * build time, and inlined; there is no script in the page and a Content-Security-Policy that allows
 * none, so the file opens offline and a hostile label cannot run.
 */
import { cellLabel } from '../../../profile/cell.ts';
import { formatP } from '../../../stats/compare.ts';
import { distributionCharts, runOrderCharts, type ChartSpec } from './charts.ts';
import { phaseCharts } from './phase-chart.ts';
import { costCharts, forestChart } from './cost-charts.ts';
import { probeCharts } from './probe-chart.ts';
import { escapeMarkup as e } from '../escape.ts';
import { ciText, interval, ms, pct, queuePairsText, rate, signedMs } from '../../model/numbers.ts';
import {
  AGREEMENT_HEADER,
  agreementCells,
  agreementSentence,
  cellFigures,
  cellGroupsOf,
  clockText,
  COST_HEADER,
  costCells,
  failureCells,
  failureHeader,
  metricErrorLines,
  valueOrError,
} from '../tables.ts';
import { decompositionSentence, groupSentence, notMeasuredText, TRADE_OFF_HEADER, tradeOffCells } from '../trade-off-text.ts';
import { methodsParagraphs } from '../../model/methods.ts';
import { renderSvg } from './render-svg.ts';
import type { MigrationRow, Summary } from '../../model/types.ts';
import { renderText } from '../text.ts';

const STYLE = `
:root { color-scheme: light; --fg:#1b1b1b; --muted:#666; --line:#ddd; --good:#1a7f37; --bad:#b00020; --warn:#8a6d00; }
body { font: 14px/1.45 system-ui, sans-serif; color: var(--fg); margin: 0 auto; max-width: 1400px; padding: 24px; box-sizing: border-box; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.sub { color: var(--muted); margin: 0 0 16px; }
pre.summary { background: #f6f8fa; border: 1px solid var(--line); padding: 12px; white-space: pre-wrap; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; width: 100%; table-layout: auto; }
caption { caption-side: top; text-align: left; color: var(--muted); font-size: 12px; padding: 2px 0 4px; }
th, td { border: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; white-space: normal; overflow-wrap: break-word; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.improvement { color: var(--good); font-weight: 600; } .regression { color: var(--bad); font-weight: 600; } .no-significant-change { color: var(--muted); }
.warnings { border-left: 4px solid var(--warn); background: #fff8e1; padding: 8px 12px; margin: 12px 0; }
.warnings li { margin-bottom: 6px; } .warnings ul ul, .warnings details { color: #444; font-size: 12px; } .warnings details { margin-left: 40px; }
.primary { background: #eef6ff; }
tr.not-ok td { color: var(--bad); } tr.warmup td { color: var(--muted); }
.flag { display: inline-block; font-size: 11px; padding: 0 5px; border-radius: 3px; margin-right: 3px; }
.flag.outlier { background: #fde2e1; color: var(--bad); } .flag.disagree { background: #fff3cd; color: var(--warn); }
figure { margin: 16px 0 24px; } figcaption { color: var(--muted); font-size: 12px; max-width: 900px; }
figure svg { max-width: 100%; height: auto; }
.methods p { max-width: 900px; }
details summary { cursor: pointer; }
`;

const verdictClass = (verdict: string) => verdict.replace(/\s+/g, '-');

function table(caption: string, header: string[], rows: string[][], rowClasses: string[] = []): string {
  return `<table><caption>${e(caption)}</caption><thead><tr>${header.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r, i) => `<tr${rowClasses[i] ? ` class="${rowClasses[i]}"` : ''}>${r.join('')}</tr>`)
    .join('')}</tbody></table>`;
}
const td = (text: string, num = false) => `<td${num ? ' class="num"' : ''}>${e(text)}</td>`;
const tdHtml = (html: string, num = false) => `<td${num ? ' class="num"' : ''}>${html}</td>`;

function warningsBlock(summary: Summary): string {
  if (!summary.warnings.length) return '<div class="warnings" id="warnings"><b>Warnings: none.</b></div>';
  // The first evidence lines show; the rest fold, so one long list does not push the headline off the screen.
  const shown = 3;
  const list = (lines: string[]) => `<ul>${lines.map((x) => `<li>${e(x)}</li>`).join('')}</ul>`;
  const evidence = (lines: string[]) =>
    lines.length <= shown + 1
      ? list(lines)
      : `${list(lines.slice(0, shown))}<details><summary>${lines.length - shown} more</summary>${list(lines.slice(shown))}</details>`;
  const items = summary.warnings.map((w) => `<li data-kind="${e(w.kind)}">${e(w.message)}${w.evidence.length ? evidence(w.evidence) : ''}</li>`).join('');
  return `<div class="warnings" id="warnings"><b>Warnings (${summary.warnings.length})</b><ul>${items}</ul></div>`;
}

function contextSection(summary: Summary): string {
  const variants = summary.variantTable.length
    ? table(
        'Every setting that differs between the variants (settings they share are left out).',
        ['setting', ...summary.variants.map(e)],
        summary.variantTable.map((r) => [td(r.setting), ...summary.variants.map((v) => td(r.values[v]))]),
      )
    : '<p>The variants differ in no recorded setting.</p>';
  return `<h2 id="variants">What differs between the variants</h2>${variants}`;
}

function comparisonSection(summary: Summary, forest: string): string {
  if (!summary.comparisons.length)
    return `<h2>Before/after</h2><p>No comparison: ${e(summary.warnings.find((w) => w.kind === 'comparison')?.message ?? `${summary.variants.length} variant(s) in the data`)}.</p>`;
  const rows: string[][] = [];
  const classes: string[] = [];
  for (const row of summary.comparisons) {
    summary.metrics.forEach((m) => {
      const c = row.metrics[m.name];
      const head = [td(row.vmSize), td(queuePairsText(row.queuePairs)), tdHtml(`${e(m.label)}${m.primary ? ' <small>(primary)</small>' : ''}`)];
      classes.push(m.primary ? 'primary' : '');
      if (!c || 'error' in c) {
        rows.push([...head, `<td colspan="7">${e(c?.error ?? 'no data')}</td>`]);
        return;
      }
      rows.push([
        ...head,
        td(`${c.nBaseline}/${c.nCandidate}`, true),
        td(`${ms(c.meanBaseline)} → ${ms(c.meanCandidate)}`, true),
        td(`${signedMs(c.diffMeans)} (${pct(c.pctChangeMean)})`, true),
        td(`${ms(c.medianBaseline)} → ${ms(c.medianCandidate)} (${signedMs(c.diffMedians)})`, true),
        tdHtml(
          `${e(signedMs(c.hodgesLehmann.shift))} ${e(interval(c.hodgesLehmann.ci))} <small>${(c.hodgesLehmann.achievedConfidence * 100).toFixed(1)}%</small>`,
          true,
        ),
        tdHtml(
          `<span title="${e(c.mannWhitney.method)}">${e(formatP(c.mannWhitney.p))}${c.mannWhitney.method === 'normal approximation' ? '*' : ''}</span>`,
          true,
        ),
        tdHtml(`<span class="${verdictClass(c.verdict)}">${e(c.verdict)}</span>`),
      ]);
    });
  }
  const reasons = summary.comparisons
    .map((row) => {
      const c = row.metrics[summary.primary];
      return c && !('error' in c)
        ? `<li>${e(row.vmSize)}, ${e(queuePairsText(row.queuePairs))}: <span class="${verdictClass(c.verdict)}">${e(c.verdict)}</span> — ${e(c.verdictReason)}</li>`
        : '';
    })
    .join('');
  return `<h2 id="before-after">Before/after: ${e(summary.settings.baseline)} → ${e(summary.settings.candidate)}</h2>
<p>Chosen by ${e(summary.settings.pairSource)}. Negative changes are shorter downtime. Verdicts need p &lt; ${e(summary.settings.alpha)} and a change of the mean above ${e(summary.settings.noiseThresholdPct)}%.</p>
${table('p: two-sided Mann–Whitney U, exact unless marked * (normal approximation). The level after the Hodges–Lehmann interval is the confidence it actually has (tiny samples cannot reach 95%).', ['VM', 'queue pairs', 'metric', 'n', 'mean', 'Δ mean', 'median (Δ)', 'Hodges–Lehmann shift [CI] level', 'p', 'verdict'], rows, classes)}
<ul class="verdicts">${reasons}</ul>
${forest}`;
}

/** What the change costs: the trade-off table per size, the downtime shift by phase, the cells that split. */
function tradeOffSection(summary: Summary): string {
  const t = summary.tradeOff;
  if (!t || !t.rows.length) return '';
  const sizes = t.rows
    .map(
      (row) =>
        `<h3>${e(row.vmSize)}, ${e(queuePairsText(row.queuePairs))}</h3>` +
        table(
          `What ${summary.settings.candidate} costs beside what it gains at ${row.vmSize}: Hodges–Lehmann shift ${summary.settings.candidate} − ${summary.settings.baseline} with its interval, from the same migrations as the downtime.`,
          TRADE_OFF_HEADER(summary).map(e),
          tradeOffCells(summary, row).map((cells) => cells.map((c, i) => td(c, i > 0))),
        ) +
        (notMeasuredText(row) ? `<p class="not-measured">${e(notMeasuredText(row)!)}.</p>` : '') +
        `<p class="decomposition">Downtime by phase: ${e(decompositionSentence(row, summary.primary))}.</p>`,
    )
    .join('');
  const groups = t.groups.length
    ? `<h3>Cells with two groups</h3><p>No single median or mean describes these cells (the seed-form line is a mean over both groups):</p><ul class="groups">${t.groups.map((g) => `<li>${e(groupSentence(g))}</li>`).join('')}</ul>`
    : '';
  return `<h2 id="trade-off">What it costs: ${e(summary.settings.baseline)} → ${e(summary.settings.candidate)}</h2>${sizes}${groups}`;
}

function cellsSection(summary: Summary): string {
  const rows = summary.cells.map((c) => {
    const f = cellFigures(summary, c);
    const split = cellGroupsOf(summary, c) !== null;
    return [
      td(c.label),
      td(rate(c.counts.ok, c.counts.measured), true),
      td(`${c.counts.failed} / ${c.counts.invalid}`, true),
      td(String(c.metrics[summary.primary]?.n ?? 0), true),
      td(f.mean, true),
      // two groups are words, not one number: they wrap
      split ? `<td class="groups">${e(f.median)}</td>` : td(f.median, true),
      td(f.sd, true),
      td(f.min, true),
      td(f.p95, true),
      td(f.max, true),
      td(c.outlierSeqs.join(', ') || 'none'),
      td(c.stop?.text ?? '—'),
    ];
  });
  return `<h2 id="cells">Cells (${e(summary.primary)})</h2>
${table(`Measured ok migrations; warm-ups (${summary.totals.warmup}) and invalid migrations are left out. Intervals and p95 from n = ${summary.settings.minNForInterval} on: ${summary.settings.ciMethod}.`, ['cell', 'success', 'failed / invalid', 'n', 'mean [95% CI]', 'median [95% CI]', 'sd', 'min', 'p95', 'max', 'outliers (seq)', 'stopped'], rows)}`;
}

function costSection(summary: Summary, charts: string): string {
  const rows = summary.cells.map((c) => costCells(c, summary.primary, summary).map((x, i) => td(x, i > 0)));
  return `<h2 id="cost">Cost side</h2>
${table('Medians over measured ok migrations, from QMP on the source: what each downtime cost.', COST_HEADER, rows)}
${charts}`;
}

function metricsSection(summary: Summary): string {
  const header = ['cell', ...summary.metrics.map((m) => `${e(m.label)}${m.primary ? ' <small>(primary)</small>' : ''}`)];
  const rows = summary.cells.map((c) => [
    td(c.label),
    ...summary.metrics.map((m) => {
      const s = c.metrics[m.name];
      return tdHtml(s ? `${e(ms(s.median))}<br><small>mean ${e(ms(s.mean))} ${e(ciText(s.meanCI, s.intervals))}<br>n ${s.n}</small>` : '—', true);
    }),
  ]);
  const descriptions = summary.metrics
    .map((m) => `<li><b>${e(m.label)}</b>${m.primary ? ' (primary)' : ''}: ${e(m.description ?? 'no description recorded for this metric')}</li>`)
    .join('');
  const agreement = summary.agreement.length
    ? `<h3>Agreement with ${e(summary.primary)}</h3><p>${e(agreementSentence(summary))}</p>${table(
        'Bland–Altman: systematic offset and limits of agreement per metric pair.',
        AGREEMENT_HEADER,
        summary.agreement.map((a) => agreementCells(a).map((x, i) => td(x, i > 0 && i < 4))),
      )}`
    : '';
  return `<h2 id="metrics">Every metric, side by side</h2>${table('Median of each metric per cell, with the mean, its 95% CI and n (measured ok migrations); the primary metric first.', header, rows)}<ul>${descriptions}</ul>${agreement}`;
}

function flags(row: MigrationRow): string {
  const out: string[] = [];
  if (row.outlier) out.push('<span class="flag outlier" title="modified z-score above 3.5 within its cell">outlier</span>');
  for (const d of row.disagreements)
    out.push(
      `<span class="flag disagree" title="${e(`${d.metric} ${ms(d.value)} vs primary ${ms(d.primaryValue)}: ${ms(d.offFromOffsetMs)} off the pair's offset > tolerance ${ms(d.toleranceMs)}`)}">${e(d.metric)} off by ${e(ms(d.offFromOffsetMs))}</span>`,
    );
  return out.join('');
}

/** Every metric that could not be computed, and why (also shown where the value would be). */
function metricErrorsSection(summary: Summary): string {
  const lines = metricErrorLines(summary);
  return `<h2 id="metric-errors">Metric errors</h2>${lines.length ? `<ul class="metric-errors">${lines.map((l) => `<li>${e(l)}</li>`).join('')}</ul>` : '<p>None: every metric was computed for every migration.</p>'}`;
}

function failuresSection(summary: Summary): string {
  const notOk = summary.migrations.filter((r) => r.status !== 'ok');
  if (!notOk.length) return '<h2 id="failures">Failed and invalid migrations</h2><p>None.</p>';
  const rows = notOk.map((r) => failureCells(r, summary.primary).map((x, i) => td(x, i === 0 || i === 4)));
  return `<h2 id="failures">Failed and invalid migrations</h2>${table('Left out of the statistics; invalid ones are drawn at their measured value in every chart.', failureHeader(summary.primary).map(e), rows)}`;
}

function migrationsSection(summary: Summary): string {
  const runs = new Set(summary.migrations.map((r) => r.run)).size > 1;
  const header = [
    ...(runs ? ['run'] : []),
    'seq',
    'cell',
    'iteration',
    'from → to',
    'status',
    ...summary.metrics.map((m) => e(m.label)),
    'clock offset ± uncertainty',
    'flags',
    'reason',
  ];
  const classes: string[] = [];
  const rows = summary.migrations.map((r) => {
    classes.push(r.status !== 'ok' ? 'not-ok' : r.warmup ? 'warmup' : '');
    return [
      ...(runs ? [td(r.run)] : []),
      td(String(r.seq), true),
      td(cellLabel(r)),
      td(r.warmup ? `warm-up ${r.iteration}` : String(r.iteration)),
      td(`${r.from} → ${r.to}`),
      td(r.status),
      // an error is words, not a number: it wraps
      ...summary.metrics.map((m) => td(valueOrError(r, m.name), r.values[m.name] !== null && r.values[m.name] !== undefined)),
      td(clockText(r), true),
      tdHtml(flags(r)),
      td(r.reason ?? ''),
    ];
  });
  return `<h2 id="migrations">Every migration</h2>
<details${summary.migrations.length <= 300 ? ' open' : ''}><summary>Table (${summary.migrations.length} rows)</summary>${table(`${summary.migrations.length} migrations in run order; ${summary.migrations.filter((r) => r.disagreements.length).length} with a metric off its offset from the primary (marked), ${summary.migrations.filter((r) => r.outlier).length} outlier(s) (flagged, kept).`, header, rows, classes)}</details>`;
}

/** An accessible chart: role="img" and a title on the SVG itself, so a screen reader names it. */
async function figure(chart: ChartSpec): Promise<string> {
  const svg = (await renderSvg(chart.spec))
    .replace(/^<svg /, `<svg role="img" aria-label="${e(chart.title)}" `)
    .replace(/^(<svg[^>]*>)/, `$1<title>${e(chart.title)}</title>`);
  return `<figure id="${e(chart.id)}" class="chart"><figcaption><b>${e(chart.title)}</b></figcaption>${svg}<figcaption>${e(chart.caption)}</figcaption></figure>`;
}

const figures = async (charts: ChartSpec[]) => (await Promise.all(charts.map(figure))).join('\n');

/** Only when the run has probe logs (else nothing, not even a line): one chart per cell, and every migration whose log could not be used. */
async function probesSection(summary: Summary): Promise<string> {
  const probes = summary.probeTimelines;
  if (!probes) return '';
  const charts = (await figures(probeCharts(summary))) || '<p>No ok migration has a usable probe log.</p>';
  const missing = probes.missing.length
    ? `<details${probes.missing.length <= 5 ? ' open' : ''}><summary>${probes.missing.length} migration(s) without a usable probe log</summary><ul>${probes.missing
        .map((m) => `<li>migration ${m.seq}${summary.runs.length > 1 ? ` of ${e(m.run)}` : ''}: ${e(m.reason)}</li>`)
        .join('')}</ul></details>`
    : summary.migrations.some((r) => Object.keys(r.metricErrors).some((m) => m.startsWith('network')))
      ? '<p>Every migration has a probe log; the network figures of some could not be computed from it (see Metric errors).</p>'
      : '<p>Every migration has a usable probe log.</p>';
  return `\n<h2 id="probes">Probes around the switchover</h2>\n${charts}\n${missing}`;
}

export async function renderHtml(summary: Summary): Promise<string> {
  const hasPhases = summary.migrations.some((r) => r.phases);
  const run = summary.runs.map((r) => `${r.runId} · profile ${r.profile} · ${r.state} · ${r.startedAt}`).join(' | ');
  const phases = hasPhases ? await figures(phaseCharts(summary)) : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(summary.title)}</title><style>${STYLE}</style></head>
<body>
<h1>${e(summary.title)}</h1>
<p class="sub">${e(run)}</p>
${warningsBlock(summary)}
<pre class="summary">${e(renderText(summary, { warnings: false }))}</pre>
${contextSection(summary)}
${comparisonSection(summary, await figures(forestChart(summary)))}
${tradeOffSection(summary)}
<h2 id="distributions">Distributions</h2>
${(await figures(distributionCharts(summary))) || '<p>No measured migrations with a value to draw.</p>'}
${cellsSection(summary)}
${costSection(summary, await figures(costCharts(summary)))}
${metricsSection(summary)}
<h2 id="run-order">Downtime in run order</h2>
${await figures(runOrderCharts(summary))}
${phases ? `<h2 id="phases">Phase timelines</h2>\n${phases}` : ''}${await probesSection(summary)}
${failuresSection(summary)}
${metricErrorsSection(summary)}
${migrationsSection(summary)}
<h2 id="methods">Methods</h2>
<div class="methods">${methodsParagraphs(summary)
    .map((p) => `<p>${e(p)}</p>`)
    .join('')}</div>
<p class="sub">Generated by vdpa-bench from ${e(summary.runs.map((r) => r.dir ?? r.runId).join(' and '))}. Numbers in summary.json.</p>
</body></html>
`;
}
