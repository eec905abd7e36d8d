/**
 * Vega-Lite specs for the HTML report (pure): data in, spec out. Field names are fixed here; labels
 * from the profile or traces travel only as data values and titles, which Vega escapes in SVG text.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Phase } from './phases.ts';
import type { MigrationRow, Summary } from './summary.ts';

export interface ChartSpec {
  id: string;
  title: string;
  caption: string;
  spec: TopLevelSpec;
}

const FONT = { font: 'system-ui, sans-serif', labelFont: 'system-ui, sans-serif', titleFont: 'system-ui, sans-serif' };
const config = { font: FONT.font, axis: { labelFontSize: 11, titleFontSize: 12, labelLimit: 320 }, legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 }, view: { stroke: '#ccc' } };

const BAND_STEP = 46;

/** Deterministic jitter in [0, 1) so the same data always draws the same picture. */
const jitter = (seq: number) => ((seq * 0.6180339887) % 1 + 1) % 1;

const groupKey = (r: { vmSize: string; queuePairs: number | null }) => `${r.vmSize}|${r.queuePairs ?? '-'}`;
const groupLabel = (r: { vmSize: string; queuePairs: number | null }) => `${r.vmSize} VM${r.queuePairs !== null ? `, ${r.queuePairs} queue pairs` : ''}`;

function groups(summary: Summary): { key: string; label: string; vmSize: string; queuePairs: number | null }[] {
  const seen = new Map<string, { key: string; label: string; vmSize: string; queuePairs: number | null }>();
  for (const c of summary.cells) if (!seen.has(groupKey(c))) seen.set(groupKey(c), { key: groupKey(c), label: groupLabel(c), vmSize: c.vmSize, queuePairs: c.queuePairs });
  return [...seen.values()];
}

function primaryPoint(row: MigrationRow, primary: string) {
  return { seq: row.seq, variant: row.variant, downtime: row.values[primary], jitter: jitter(row.seq), kind: row.outlier ? 'outlier (kept)' : 'migration', iteration: row.iteration };
}

/** Per VM size: each variant's distribution as a box (min–max whiskers) with every measured ok migration as a point. */
export function distributionCharts(summary: Summary): ChartSpec[] {
  return groups(summary).map((g, i) => {
    const rows = summary.migrations.filter((r) => groupKey(r) === g.key && !r.warmup && r.status === 'ok' && r.values[summary.primary] !== null);
    const variants = summary.variants.filter((v) => rows.some((r) => r.variant === v));
    const y = { field: 'variant', type: 'nominal' as const, title: null, sort: variants, axis: { labelLimit: 220 } };
    const x = { field: 'downtime', type: 'quantitative' as const, title: `downtime, ms (${summary.primary})`, scale: { zero: false } };
    return {
      id: `distribution-${i + 1}`,
      title: `Distribution: ${g.label}`,
      caption: `Box: quartiles and median, whiskers min–max. Every measured ok migration is a point (vertical jitter only); outliers by the modified z-score are drawn as red diamonds and kept. Metric: ${summary.primary}.`,
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        config,
        width: 640,
        height: { step: BAND_STEP },
        data: { values: rows.map((r) => primaryPoint(r, summary.primary)) },
        layer: [
          { mark: { type: 'boxplot', extent: 'min-max', size: 26, box: { color: '#c6dbef', stroke: '#6b8fb3' }, median: { color: '#08306b', size: 26 }, rule: { color: '#6b8fb3' }, ticks: { color: '#6b8fb3', size: 12 } }, encoding: { y, x } },
          {
            mark: { type: 'point', filled: true, size: 48, opacity: 0.9 },
            encoding: {
              y,
              x,
              // Offsets count from the start of the band (step 46, padding 0.1 at both sides): centre ±13 px.
              yOffset: { field: 'jitter', type: 'quantitative', scale: { domain: [0, 1], range: [BAND_STEP / 2 - 13, BAND_STEP / 2 + 13] } },
              shape: { field: 'kind', type: 'nominal', scale: { domain: ['migration', 'outlier (kept)'], range: ['circle', 'diamond'] }, title: null },
              color: { field: 'kind', type: 'nominal', scale: { domain: ['migration', 'outlier (kept)'], range: ['#333', '#d62728'] }, title: null },
            },
          },
        ],
      } as TopLevelSpec,
    };
  });
}

/** Per VM size: downtime of every migration in run order (warm-ups hollow, failures as red crosses on the axis). */
export function runOrderCharts(summary: Summary): ChartSpec[] {
  return groups(summary).map((g, i) => {
    const runs = new Set(summary.migrations.map((r) => r.run)).size > 1;
    // Two runs number their migrations from 1 each: place them one after the other instead.
    const position = new Map(summary.migrations.map((r, index) => [r, runs ? index + 1 : r.seq]));
    const rows = summary.migrations.filter((r) => groupKey(r) === g.key);
    const points = rows
      .filter((r) => r.status === 'ok' && r.values[summary.primary] !== null)
      .map((r) => ({ order: position.get(r)!, variant: r.variant, downtime: r.values[summary.primary], phase: r.warmup ? 'warm-up (not in statistics)' : 'measured', run: r.run }));
    const failures = rows.filter((r) => r.status !== 'ok').map((r) => ({ order: position.get(r)!, variant: r.variant, status: `${r.status}${r.warmup ? ' (warm-up)' : ''}` }));
    const layers: unknown[] = [
      {
        data: { values: points },
        mark: { type: 'line', strokeOpacity: 0.35, point: false },
        encoding: { x: { field: 'order', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' }, title: runs ? 'migration (run order; the candidate run after the baseline run)' : 'migration (run order, seq)' }, y: { field: 'downtime', type: 'quantitative', title: `downtime, ms (${summary.primary})` }, color: { field: 'variant', type: 'nominal', sort: summary.variants, title: 'variant' }, detail: { field: 'variant' } },
      },
      ...(['measured', 'warm-up'] as const).map((phase) => ({
        data: { values: points.filter((p) => p.phase.startsWith(phase)) },
        mark: phase === 'measured' ? { type: 'point', shape: 'circle', size: 55, filled: true, opacity: 1 } : { type: 'point', shape: 'square', size: 70, filled: false, strokeWidth: 1.5 },
        encoding: {
          x: { field: 'order', type: 'quantitative' },
          y: { field: 'downtime', type: 'quantitative' },
          color: { field: 'variant', type: 'nominal', sort: summary.variants, title: 'variant' },
        },
      })),
    ];
    if (failures.length) {
      layers.push({
        data: { values: failures },
        mark: { type: 'point', shape: 'cross', size: 90, color: '#d62728', filled: true },
        encoding: { x: { field: 'order', type: 'quantitative' }, y: { datum: 0 } },
      });
    }
    return {
      id: `run-order-${i + 1}`,
      title: `Run order: ${g.label}`,
      caption: `Every migration of this VM size in the order it ran: drift and warm-up effects show here. Filled circles are measured migrations; hollow squares are warm-ups (left out of statistics)${failures.length ? `; red crosses at 0 are ${failures.length} failed or invalid migration(s) (no downtime)` : ''}.`,
      spec: { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config, width: 640, height: 220, layer: layers } as TopLevelSpec,
    };
  });
}

/** Per cell: the phases of its representative migration (closest to the median) where the records carry phases. */
export function phaseCharts(summary: Summary): ChartSpec[] {
  const charts: ChartSpec[] = [];
  summary.cells.forEach((cell, i) => {
    const row = summary.migrations.find((r) => r.seq === cell.representativeSeq && r.cell === cell.key);
    if (!row?.phases?.length) return;
    const phases: Phase[] = row.phases;
    const order = [...new Set(phases.map((p) => p.name))];
    const bars = phases.filter((p) => !p.instant).map((p) => ({ phase: p.name, start: p.startMs, end: p.endMs, side: p.side ?? 'downtime window' }));
    const instants = phases.filter((p) => p.instant).map((p) => ({ phase: p.name, at: p.startMs, side: p.side ?? 'downtime window' }));
    const y = { field: 'phase', type: 'nominal' as const, sort: order, title: null, axis: { labelLimit: 240 } };
    const layers: unknown[] = [];
    if (bars.length) layers.push({ data: { values: bars }, mark: { type: 'bar', height: 14 }, encoding: { y, x: { field: 'start', type: 'quantitative', title: 'ms from the source freeze (start of the downtime window)' }, x2: { field: 'end' }, color: { field: 'side', type: 'nominal', title: 'side' } } });
    if (instants.length) layers.push({ data: { values: instants }, mark: { type: 'tick', thickness: 3, size: 18 }, encoding: { y, x: { field: 'at', type: 'quantitative', title: 'ms from the source freeze (start of the downtime window)' }, color: { field: 'side', type: 'nominal', title: 'side' } } });
    layers.push({ data: { values: [{ at: 0 }] }, mark: { type: 'rule', strokeDash: [4, 3], color: '#555' }, encoding: { x: { field: 'at', type: 'quantitative' } } });
    charts.push({
      id: `phases-${i + 1}`,
      title: `Phases: ${cell.label}, migration ${row.seq}`,
      caption: `The migration closest to the cell's median downtime (${row.values[summary.primary]?.toFixed(1)} ms). The dashed line is the source freeze; bars are phases from the traces, ticks are instants.${row.phaseNotes.length ? ` ${row.phaseNotes.join('; ')}.` : ''}`,
      spec: { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config, width: 640, height: { step: 26 }, layer: layers } as TopLevelSpec,
    });
  });
  return charts;
}
