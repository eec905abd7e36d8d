/**
 * The HTML report: one self-contained file. Charts are Vega-Lite specs rendered to SVG here, at
 * build time, and inlined; there is no script in the page and a Content-Security-Policy that allows
 * none, so the file opens offline and a hostile label cannot run.
 */
import { cellLabel } from '../profile/cell.ts';
import { formatP } from '../stats/compare.ts';
import { distributionCharts, phaseCharts, runOrderCharts, type ChartSpec } from './charts.ts';
import { escapeMarkup as e } from './escape.ts';
import { interval, ms, pct, queuePairsText, rate, signedMs } from './format.ts';
import { methodsParagraphs } from './methods.ts';
import { renderSvg } from './render-svg.ts';
import type { MigrationRow, Summary } from './summary.ts';
import { renderText } from './text.ts';

const STYLE = `
:root { color-scheme: light; --fg:#1b1b1b; --muted:#666; --line:#ddd; --good:#1a7f37; --bad:#c62828; --warn:#8a6d00; }
body { font: 14px/1.45 system-ui, sans-serif; color: var(--fg); margin: 0 auto; max-width: 1400px; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.sub { color: var(--muted); margin: 0 0 16px; }
pre.summary { background: #f6f8fa; border: 1px solid var(--line); padding: 12px; white-space: pre-wrap; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td { white-space: nowrap; } td.wrap { white-space: normal; min-width: 240px; }
.scroll { overflow-x: auto; max-width: 100%; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.improvement { color: var(--good); font-weight: 600; } .regression { color: var(--bad); font-weight: 600; } .no-significant-change { color: var(--muted); }
.warnings { border-left: 4px solid var(--warn); background: #fff8e1; padding: 8px 12px; }
.primary { background: #eef6ff; }
tr.not-ok td { color: var(--bad); } tr.warmup td { color: var(--muted); }
.flag { display: inline-block; font-size: 11px; padding: 0 5px; border-radius: 3px; margin-right: 3px; }
.flag.outlier { background: #fde2e1; color: var(--bad); } .flag.disagree { background: #fff3cd; color: var(--warn); }
figure { margin: 16px 0 24px; } figcaption { color: var(--muted); font-size: 12px; max-width: 760px; }
figure svg { max-width: 100%; height: auto; }
.methods p { max-width: 900px; }
details summary { cursor: pointer; }
`;

const verdictClass = (verdict: string) => verdict.replace(/\s+/g, '-');

function table(header: string[], rows: string[][], rowClasses: string[] = []): string {
  return `<div class="scroll"><table><thead><tr>${header.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r, i) => `<tr${rowClasses[i] ? ` class="${rowClasses[i]}"` : ''}>${r.join('')}</tr>`)
    .join('')}</tbody></table></div>`;
}
const td = (text: string, num = false) => `<td${num ? ' class="num"' : ''}>${e(text)}</td>`;
const tdHtml = (html: string, num = false) => `<td${num ? ' class="num"' : ''}>${html}</td>`;

function comparisonSection(summary: Summary): string {
  if (!summary.comparisons.length) return `<h2>Before/after</h2><p>No comparison: ${e(summary.warnings.find((w) => w.includes('compar')) ?? `${summary.variants.length} variant(s) in the data`)}.</p>`;
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
        tdHtml(`${e(signedMs(c.hodgesLehmann.shift))} ${e(interval(c.hodgesLehmann.ci))} <small>${(c.hodgesLehmann.achievedConfidence * 100).toFixed(1)}%</small>`, true),
        tdHtml(`<span title="${e(c.mannWhitney.method)}">${e(formatP(c.mannWhitney.p))}${c.mannWhitney.method === 'normal approximation' ? '*' : ''}</span>`, true),
        tdHtml(`<span class="${verdictClass(c.verdict)}" title="${e(c.verdictReason)}">${e(c.verdict)}</span>`),
      ]);
    });
  }
  const reasons = summary.comparisons
    .map((row) => {
      const c = row.metrics[summary.primary];
      return c && !('error' in c) ? `<li>${e(row.vmSize)}, ${e(queuePairsText(row.queuePairs))}: <span class="${verdictClass(c.verdict)}">${e(c.verdict)}</span> — ${e(c.verdictReason)}</li>` : '';
    })
    .join('');
  return `<h2>Before/after: ${e(summary.settings.baseline)} → ${e(summary.settings.candidate)}</h2>
<p>Chosen by ${e(summary.settings.pairSource)}. Negative changes are shorter downtime. Verdicts need p &lt; ${e(summary.settings.alpha)} and a change of the mean above ${e(summary.settings.noiseThresholdPct)}%.</p>
${table(['VM', 'queue pairs', 'metric', 'n', 'mean', 'Δ mean', 'median (Δ)', 'Hodges–Lehmann shift [CI] level', 'p', 'verdict'], rows, classes)}
<p class="sub">p: two-sided Mann–Whitney U, exact permutation distribution (mid-ranks when tied) unless marked * (normal approximation). CI level: the confidence the Hodges–Lehmann interval actually has (exact intervals are conservative; tiny samples cannot reach 95%).</p>
<ul>${reasons}</ul>`;
}

function cellsSection(summary: Summary): string {
  const rows = summary.cells.map((c) => {
    const s = c.metrics[summary.primary];
    return [
      td(c.label),
      td(rate(c.counts.ok, c.counts.measured), true),
      td(`${c.counts.failed} / ${c.counts.invalid}`, true),
      td(String(s?.n ?? 0), true),
      td(s ? `${ms(s.mean)} ${interval(s.meanCI)}` : '—', true),
      td(s ? `${ms(s.median)} ${interval(s.medianCI)}` : '—', true),
      td(ms(s?.sd), true),
      td(ms(s?.min), true),
      td(ms(s?.p95), true),
      td(ms(s?.max), true),
      td(c.outlierSeqs.join(', ') || 'none'),
      td(c.stop?.text ?? '—'),
    ];
  });
  return `<h2>Cells (${e(summary.primary)})</h2>
<p>Measured ok migrations; warm-ups (${summary.totals.warmup}) are left out. Confidence intervals: ${e(summary.settings.ciMethod)}.</p>
${table(['cell', 'success', 'failed / invalid', 'n', 'mean [95% CI]', 'median [95% CI]', 'sd', 'min', 'p95', 'max', 'outliers (seq)', 'stopped'], rows)}`;
}

function metricsSection(summary: Summary): string {
  const header = ['cell', ...summary.metrics.map((m) => `${e(m.label)}${m.primary ? ' <small>(primary)</small>' : ''}`)];
  const rows = summary.cells.map((c) => [
    td(c.label),
    ...summary.metrics.map((m) => {
      const s = c.metrics[m.name];
      return tdHtml(s ? `${e(ms(s.median))}<br><small>mean ${e(ms(s.mean))} ${e(interval(s.meanCI))}<br>n ${s.n}</small>` : '—', true);
    }),
  ]);
  const descriptions = summary.metrics.map((m) => `<li><b>${e(m.label)}</b>${m.primary ? ' (primary)' : ''}: ${e(m.description ?? 'no description')}${m.checked ? '' : ' — shown, not checked for disagreement'}</li>`).join('');
  return `<h2>Every metric, side by side</h2><p>Median of each metric per cell, with the mean, its 95% CI and n (measured ok migrations); the primary metric first.</p>${table(header, rows)}<ul>${descriptions}</ul>`;
}

function flags(row: MigrationRow, tolerance: number): string {
  const out: string[] = [];
  if (row.outlier) out.push('<span class="flag outlier" title="modified z-score above 3.5 within its cell">outlier</span>');
  for (const d of row.disagreements) out.push(`<span class="flag disagree" title="${e(`${d.metric} ${ms(d.value)} vs primary ${ms(d.primaryValue)}: ${d.pct.toFixed(0)}% > ${tolerance}%`)}">${e(d.metric)} disagrees ${e(d.pct.toFixed(0))}%</span>`);
  return out.join('');
}

function migrationsSection(summary: Summary): string {
  const runs = new Set(summary.migrations.map((r) => r.run)).size > 1;
  const header = [...(runs ? ['run'] : []), 'seq', 'cell', 'iteration', 'from → to', 'status', ...summary.metrics.map((m) => e(m.label)), 'flags', 'reason'];
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
      ...summary.metrics.map((m) => td(ms(r.values[m.name]), true)),
      tdHtml(flags(r, summary.settings.disagreementTolerancePct)),
      `<td class="wrap">${e(r.reason ?? '')}</td>`,
    ];
  });
  const disagreeing = summary.migrations.filter((r) => r.disagreements.length).length;
  return `<h2>Every migration</h2>
<p>${summary.migrations.length} migrations; ${disagreeing} with metrics that disagree by more than ${e(summary.settings.disagreementTolerancePct)}% (marked), ${summary.migrations.filter((r) => r.outlier).length} outlier(s) (flagged, kept).</p>
<details${summary.migrations.length <= 300 ? ' open' : ''}><summary>Table (${summary.migrations.length} rows)</summary>${table(header, rows, classes)}</details>`;
}

async function figure(chart: ChartSpec): Promise<string> {
  const svg = await renderSvg(chart.spec);
  return `<figure id="${e(chart.id)}" class="chart"><figcaption><b>${e(chart.title)}</b></figcaption>${svg}<figcaption>${e(chart.caption)}</figcaption></figure>`;
}

export async function renderHtml(summary: Summary): Promise<string> {
  const distribution = await Promise.all(distributionCharts(summary).map(figure));
  const runOrder = await Promise.all(runOrderCharts(summary).map(figure));
  const phases = await Promise.all(phaseCharts(summary).map(figure));
  const hasPhases = summary.migrations.some((r) => r.phases);
  const warnings = summary.warnings.length ? `<div class="warnings"><b>Warnings</b><ul>${summary.warnings.map((w) => `<li>${e(w)}</li>`).join('')}</ul></div>` : '';
  const run = summary.runs.map((r) => `${r.runId} · profile ${r.profile} · ${r.state} · ${r.startedAt}`).join(' | ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(summary.title)}</title><style>${STYLE}</style></head>
<body>
<h1>${e(summary.title)}</h1>
<p class="sub">${e(run)}</p>
<pre class="summary">${e(renderText(summary))}</pre>
${warnings}
${comparisonSection(summary)}
<h2>Distributions</h2>
${distribution.join('\n') || '<p>No ok measured migrations to draw.</p>'}
${cellsSection(summary)}
${metricsSection(summary)}
<h2>Downtime in run order</h2>
${runOrder.join('\n')}
<h2>Phase timelines</h2>
${hasPhases ? phases.join('\n') || '<p>No representative migration carries phases.</p>' : '<p>These records carry no phase data (<code>extra.phases</code>): no timeline to draw.</p>'}
${migrationsSection(summary)}
<h2>Methods</h2>
<div class="methods">${methodsParagraphs(summary).map((p) => `<p>${e(p)}</p>`).join('')}</div>
<p class="sub">Generated by vdpa-bench from ${e(summary.runs.map((r) => r.dir ?? r.runId).join(' and '))}. Numbers in summary.json.</p>
</body></html>
`;
}
