/**
 * The history report (pure but for rendering): one self-contained HTML page, a chart per cell with
 * every night's samples, its median, tonight's verdict, change points and fingerprint changes
 * marked. Charts go through the same Vega-Lite → SVG path as the run reports.
 */
import type { TopLevelSpec } from 'vega-lite';
import { cellKey, type Cell } from '../profile/cell.ts';
import { escapeMarkup } from '../report/export/escape.ts';
import { renderSvg } from '../report/export/html/render-svg.ts';
import { reportSettings } from '../report/model/settings.ts';
import { buildSummary } from '../report/model/summary.ts';
import { type ReportWarning } from '../report/model/types.ts';
import type { CellVerdict, NightlyVerdict } from './compare.ts';
import type { HistoryRun } from './history.ts';
import { median } from '../stats/describe.ts';

const VERDICT_COLOUR: Record<string, string> = { regression: '#c62828', improvement: '#2e7d32', ok: '#1565c0', 'no-baseline': '#777', 'no-data': '#ef6c00' };

function nightSamples(run: HistoryRun, cell: Cell): number[] {
  return run.records.filter((r) => !r.warmup && r.status === 'ok' && r.downtimeMs !== null && cellKey(r) === cellKey(cell)).map((r) => r.downtimeMs as number);
}

/** One cell's history as a Vega-Lite spec; null when the history has no ok measurement of it. */
export function cellChartSpec(runs: readonly HistoryRun[], verdict: CellVerdict, tonightRunId: string): TopLevelSpec | null {
  const nights = runs.map((run, i) => ({ run, night: `${run.manifest.startedAt.slice(0, 10)} #${i + 1}`, values: nightSamples(run, verdict.cell) }));
  if (!nights.some((n) => n.values.length)) return null;
  const order = nights.map((n) => n.night);
  const x = { field: 'night', type: 'ordinal', sort: order, title: 'night (start date, run number)', axis: { labelAngle: -45 } };
  const y = { field: 'downtime', type: 'quantitative', title: 'downtime, ms' };
  const samples = nights.flatMap((n) => n.values.map((downtime) => ({ night: n.night, downtime })));
  const medians = nights.filter((n) => n.values.length).map((n) => ({ night: n.night, downtime: median(n.values) }));
  const fingerprintChanges = nights
    .filter((n, i) => i > 0 && n.run.fingerprint.hash !== nights[i - 1].run.fingerprint.hash)
    .map((n) => ({ night: n.night, what: `lab fingerprint changed: ${n.run.fingerprint.hash}` }));
  const changePoints = verdict.changePoints.flatMap((cp) => {
    const night = nights.find((n) => n.run.manifest.runId === cp.runId)?.night;
    return night
      ? [
          {
            night,
            what: `change point: ${cp.beforeMedianMs.toFixed(2)} → ${cp.afterMedianMs.toFixed(2)} ms (${cp.changePct.toFixed(1)}%, p=${cp.pValue.toPrecision(3)})`,
          },
        ]
      : [];
  });
  const tonight = nights.find((n) => n.run.manifest.runId === tonightRunId && n.values.length);
  const tonightMark = tonight ? [{ night: tonight.night, downtime: median(tonight.values), label: `tonight: ${verdict.verdict}` }] : [];
  const colour = VERDICT_COLOUR[verdict.verdict];
  const layers: unknown[] = [
    { data: { values: samples }, mark: { type: 'point', filled: true, size: 14, color: '#9e9e9e', opacity: 0.7 }, encoding: { x, y } },
    { data: { values: medians }, mark: { type: 'line', color: '#1565c0', strokeWidth: 1.5, point: false }, encoding: { x, y } },
    { data: { values: fingerprintChanges }, mark: { type: 'rule', color: '#8e24aa', strokeDash: [2, 3] }, encoding: { x, tooltip: { field: 'what' } } },
    { data: { values: changePoints }, mark: { type: 'rule', color: '#c62828', strokeDash: [6, 3] }, encoding: { x, tooltip: { field: 'what' } } },
    { data: { values: tonightMark }, mark: { type: 'point', filled: false, size: 160, strokeWidth: 2.5, color: colour }, encoding: { x, y } },
    {
      data: { values: tonightMark },
      mark: { type: 'text', dx: 10, align: 'left', color: colour, fontWeight: 'bold' },
      encoding: { x, y, text: { field: 'label' } },
    },
  ];
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: 700, height: 220, layer: layers } as TopLevelSpec;
}

export async function cellChart(runs: readonly HistoryRun[], verdict: CellVerdict, tonightRunId: string): Promise<string> {
  const spec = cellChartSpec(runs, verdict, tonightRunId);
  if (!spec) return `<p class="empty">No ok measurements of this cell in the history.</p>`;
  const title = `downtime per night: ${escapeMarkup(verdict.label)}`;
  return (await renderSvg(spec)).replace(/^<svg /, `<svg role="img" aria-label="${title}" `).replace(/^(<svg[^>]*>)/, `$1<title>${title}</title>`);
}

/** Tonight's run's own warnings (damaged guests, TCG, small n, ...): they travel with the nightly verdict too. */
export function tonightWarnings(verdict: NightlyVerdict, runs: readonly HistoryRun[]): ReportWarning[] {
  const run = runs.find((r) => r.manifest.runId === verdict.runId);
  if (!run) return [];
  const data = { runId: run.manifest.runId, dir: run.dir, manifest: run.manifest, records: run.records, tornLines: run.tornLines };
  return buildSummary({ runs: [data], settings: reportSettings(run.manifest), records: run.records }).warnings;
}

export async function historyReportHtml(verdict: NightlyVerdict, runs: readonly HistoryRun[]): Promise<string> {
  const rows = verdict.cells
    .map(
      (c) =>
        `<tr><td>${escapeMarkup(c.label)}</td><td style="color:${VERDICT_COLOUR[c.verdict]};font-weight:bold">${c.verdict}</td><td>${c.tonight.medianMs?.toFixed(2) ?? '—'}</td><td>${c.baseline.medianMs?.toFixed(2) ?? '—'}</td><td>${c.changePct === null ? '—' : `${c.changePct >= 0 ? '+' : ''}${c.changePct.toFixed(1)}%`}</td><td>${c.pValue === null ? '—' : c.pValue.toPrecision(3)}</td><td>${escapeMarkup(c.reason)}</td></tr>`,
    )
    .join('\n');
  const charts = (
    await Promise.all(
      verdict.cells.map(
        async (c) =>
          `<section><h2>${escapeMarkup(c.label)} <small style="color:${VERDICT_COLOUR[c.verdict]}">${c.verdict}</small></h2>${await cellChart(runs, c, verdict.runId)}</section>`,
      ),
    )
  ).join('\n');
  const warnings = tonightWarnings(verdict, runs);
  const tonight = warnings.length
    ? `<div class="warn"><b>Tonight's run: warnings</b><ul>${warnings.map((w) => `<li>${escapeMarkup(w.message)}${w.evidence.length ? `<ul>${w.evidence.map((x) => `<li>${escapeMarkup(x)}</li>`).join('')}</ul>` : ''}</li>`).join('')}</ul></div>`
    : '';
  const fp = verdict.fingerprintChange
    ? `<div class="warn"><b>Lab fingerprint changed</b> since ${escapeMarkup(verdict.fingerprintChange.previousRunId)}; earlier nights with the old fingerprint are shown but not compared:<ul>${verdict.fingerprintChange.changes.map((c) => `<li>${escapeMarkup(c)}</li>`).join('')}</ul></div>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vdpa-bench nightly: ${escapeMarkup(verdict.profile)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:900px}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;font-size:13px;text-align:left}.warn{background:#fff3e0;padding:8px;border-left:4px solid #ef6c00}small{font-size:60%}</style></head>
<body><h1>Nightly ${escapeMarkup(verdict.profile)}: ${verdict.regression ? '<span style="color:#c62828">regression</span>' : 'no regression'}</h1>
<p>Run ${escapeMarkup(verdict.runId)}, lab fingerprint ${escapeMarkup(verdict.fingerprint)}; compared with ${verdict.cells[0]?.baseline.nights.length ?? 0} of ${verdict.comparableNights.length} comparable earlier nights (window ${verdict.options.window}); regression = one-sided Mann–Whitney p &lt; ${verdict.options.alpha} and a median change above ${verdict.options.noiseThresholdPct}%. Change points need ${verdict.options.minSegment} nights on each side. Grey dots: measured migrations; blue line: nightly median; ring: tonight's verdict; red dashes: change points; purple dots: fingerprint changes.</p>
${tonight}
${fp}
<table><tr><th>cell</th><th>verdict</th><th>tonight median, ms</th><th>baseline median, ms</th><th>change</th><th>p</th><th>why</th></tr>
${rows}</table>
${charts}
</body></html>
`;
}
