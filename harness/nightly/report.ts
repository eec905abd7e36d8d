/**
 * The history report (pure): one self-contained HTML page, an SVG chart per cell with every
 * night's samples, its median, tonight's verdict, change points and fingerprint changes marked.
 */
import { cellKey, type Cell } from '../profile/cell.ts';
import { escapeMarkup } from '../report/escape.ts';
import type { CellVerdict, NightlyVerdict } from './compare.ts';
import type { HistoryRun } from './history.ts';
import { median } from '../stats/describe.ts';

const VERDICT_COLOUR: Record<string, string> = { regression: '#c62828', improvement: '#2e7d32', ok: '#1565c0', 'no-baseline': '#777', 'no-data': '#ef6c00' };

function nightSamples(run: HistoryRun, cell: Cell): number[] {
  return run.records.filter((r) => !r.warmup && r.status === 'ok' && r.downtimeMs !== null && cellKey(r) === cellKey(cell)).map((r) => r.downtimeMs as number);
}

export function cellChart(runs: readonly HistoryRun[], verdict: CellVerdict, tonightRunId: string): string {
  const width = 760;
  const height = 260;
  const pad = { left: 60, right: 20, top: 20, bottom: 60 };
  const nights = runs.map((run) => ({ run, values: nightSamples(run, verdict.cell) }));
  const all = nights.flatMap((n) => n.values);
  if (all.length === 0) return `<p class="empty">No ok measurements of this cell in the history.</p>`;
  const max = Math.max(...all) * 1.1;
  const x = (i: number) => pad.left + (nights.length === 1 ? (width - pad.left - pad.right) / 2 : (i * (width - pad.left - pad.right)) / (nights.length - 1));
  const y = (v: number) => pad.top + (1 - v / max) * (height - pad.top - pad.bottom);
  const parts: string[] = [];
  for (let t = 0; t <= 4; t++) {
    const v = (max * t) / 4;
    parts.push(`<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/><text x="${pad.left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="10">${v.toFixed(v < 10 ? 1 : 0)}</text>`);
  }
  parts.push(`<text x="14" y="${pad.top + (height - pad.top - pad.bottom) / 2}" font-size="11" transform="rotate(-90 14 ${pad.top + (height - pad.top - pad.bottom) / 2})" text-anchor="middle">downtime, ms</text>`);
  let previousFingerprint: string | undefined;
  const medians: string[] = [];
  nights.forEach((night, i) => {
    const fp = night.run.fingerprint.hash;
    if (previousFingerprint && fp !== previousFingerprint) {
      parts.push(`<line x1="${x(i) - 4}" x2="${x(i) - 4}" y1="${pad.top}" y2="${height - pad.bottom}" stroke="#8e24aa" stroke-dasharray="2 3"><title>lab fingerprint changed: ${escapeMarkup(fp)}</title></line>`);
    }
    previousFingerprint = fp;
    for (const v of night.values) parts.push(`<circle cx="${x(i)}" cy="${y(v)}" r="2" fill="#9e9e9e" fill-opacity="0.7"/>`);
    if (night.values.length) medians.push(`${x(i)},${y(median(night.values))}`);
    const date = night.run.manifest.startedAt.slice(0, 10);
    parts.push(`<text x="${x(i)}" y="${height - pad.bottom + 14}" font-size="9" text-anchor="end" transform="rotate(-45 ${x(i)} ${height - pad.bottom + 14})">${escapeMarkup(date)}<title>${escapeMarkup(night.run.manifest.runId)}</title></text>`);
    if (night.run.manifest.runId === tonightRunId && night.values.length) {
      const colour = VERDICT_COLOUR[verdict.verdict];
      parts.push(`<circle cx="${x(i)}" cy="${y(median(night.values))}" r="6" fill="none" stroke="${colour}" stroke-width="2.5"><title>tonight: ${escapeMarkup(verdict.verdict)}: ${escapeMarkup(verdict.reason)}</title></circle>`);
    }
  });
  if (medians.length > 1) parts.push(`<polyline points="${medians.join(' ')}" fill="none" stroke="#1565c0" stroke-width="1.5"/>`);
  for (const cp of verdict.changePoints) {
    const i = nights.findIndex((n) => n.run.manifest.runId === cp.runId);
    if (i < 0) continue;
    parts.push(`<line x1="${x(i) - 6}" x2="${x(i) - 6}" y1="${pad.top}" y2="${height - pad.bottom}" stroke="#c62828" stroke-dasharray="6 3"><title>change point: ${cp.beforeMedianMs.toFixed(2)} → ${cp.afterMedianMs.toFixed(2)} ms (${cp.changePct.toFixed(1)}%, p=${cp.pValue.toPrecision(3)})</title></line>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="downtime per night">${parts.join('')}</svg>`;
}

export function historyReportHtml(verdict: NightlyVerdict, runs: readonly HistoryRun[]): string {
  const rows = verdict.cells
    .map((c) => `<tr><td>${escapeMarkup(c.label)}</td><td style="color:${VERDICT_COLOUR[c.verdict]};font-weight:bold">${c.verdict}</td><td>${c.tonight.medianMs?.toFixed(2) ?? '—'}</td><td>${c.baseline.medianMs?.toFixed(2) ?? '—'}</td><td>${c.changePct === null ? '—' : `${c.changePct >= 0 ? '+' : ''}${c.changePct.toFixed(1)}%`}</td><td>${c.pValue === null ? '—' : c.pValue.toPrecision(3)}</td><td>${escapeMarkup(c.reason)}</td></tr>`)
    .join('\n');
  const charts = verdict.cells.map((c) => `<section><h2>${escapeMarkup(c.label)} <small style="color:${VERDICT_COLOUR[c.verdict]}">${c.verdict}</small></h2>${cellChart(runs, c, verdict.runId)}</section>`).join('\n');
  const fp = verdict.fingerprintChange
    ? `<div class="warn"><b>Lab fingerprint changed</b> since ${escapeMarkup(verdict.fingerprintChange.previousRunId)}; earlier nights with the old fingerprint are shown but not compared:<ul>${verdict.fingerprintChange.changes.map((c) => `<li>${escapeMarkup(c)}</li>`).join('')}</ul></div>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vdpa-bench nightly: ${escapeMarkup(verdict.profile)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:900px}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;font-size:13px;text-align:left}.warn{background:#fff3e0;padding:8px;border-left:4px solid #ef6c00}small{font-size:60%}</style></head>
<body><h1>Nightly ${escapeMarkup(verdict.profile)}: ${verdict.regression ? '<span style="color:#c62828">regression</span>' : 'no regression'}</h1>
<p>Run ${escapeMarkup(verdict.runId)}, lab fingerprint ${escapeMarkup(verdict.fingerprint)}; compared with ${verdict.cells[0]?.baseline.nights.length ?? 0} of ${verdict.comparableNights.length} comparable earlier nights (window ${verdict.options.window}); regression = one-sided Mann–Whitney p &lt; ${verdict.options.alpha} and a median change above ${verdict.options.noiseThresholdPct}%. Change points need ${verdict.options.minSegment} nights on each side. Grey dots: measured migrations; blue line: nightly median; ring: tonight's verdict; red dashes: change points; purple dots: fingerprint changes.</p>
${fp}
<table><tr><th>cell</th><th>verdict</th><th>tonight median, ms</th><th>baseline median, ms</th><th>change</th><th>p</th><th>why</th></tr>
${rows}</table>
${charts}
</body></html>
`;
}
