/**
 * The phase timeline as Vega-Lite specs (pure): per cell, the phases of its representative
 * migration, or of one per group where the cell's downtime splits into two groups. Each chart has
 * two panels: the downtime window zoomed (what happens in it and just after it, at a readable
 * scale) above the whole timeline (pinning that ran seconds before the freeze); one panel when
 * every phase lies in the zoomed span.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Phase } from '../../model/phases.ts';
import type { CellSummary, MigrationRow, Summary } from '../../model/types.ts';
import { capitalised, colourName, config, labelLimitFor, Layers, REFERENCE_COLOUR, VEGA_LITE_SCHEMA } from './chart-style.ts';
import type { ChartSpec } from './charts.ts';

const ZOOM_COLOUR = '#999999';
const X_TITLE = 'ms from the source freeze (start of the downtime window)';

interface Shown {
  row: MigrationRow;
  why: string;
}

const closest = (rows: MigrationRow[], primary: string, to: number) =>
  rows.reduce((best, r) => (Math.abs(r.values[primary]! - to) < Math.abs(best.values[primary]! - to) ? r : best));

/** The migrations a cell's chart shows: the one closest to the median, or for two groups the one closest to each group's median. */
export function shownMigrations(summary: Summary, cell: CellSummary): Shown[] {
  const split = summary.tradeOff?.groups.find((g) => g.cellKey === cell.key)?.groups;
  const primary = summary.primary;
  const pool = summary.migrations.filter((r) => r.cell === cell.key && !r.warmup && r.status === 'ok' && r.values[primary] != null && r.phases?.length);
  if (split) {
    const sides = [
      { rows: pool.filter((r) => r.values[primary]! < split.split), group: split.low, name: 'fast' },
      { rows: pool.filter((r) => r.values[primary]! >= split.split), group: split.high, name: 'slow' },
    ];
    if (sides.every((s) => s.rows.length))
      return sides.map((s) => ({
        row: closest(s.rows, primary, s.group.median),
        why: `the migration closest to the median of the ${s.name} group (n = ${s.group.n}, ${s.group.min.toFixed(1)}–${s.group.max.toFixed(1)} ms) of a cell with two groups`,
      }));
  }
  const row = summary.migrations.find((r) => r.seq === cell.representativeSeq && r.cell === cell.key);
  return row?.phases?.length ? [{ row, why: "the migration closest to the cell's median downtime" }] : [];
}

/**
 * The zoomed span: the downtime window with a margin of 15% of it (20 ms at least) on each side,
 * widened to show whole any phase that starts or ends in it (pinning and DRIVER_OK just after the
 * window), by at most two margins more, so one long phase does not undo the zoom.
 */
export function zoomSpan(phases: Phase[]): [number, number] {
  const window = phases.find((p) => p.side === 'downtime window') ?? phases[0];
  const margin = Math.max(20, 0.15 * (window.endMs - window.startMs));
  const [from, to] = [window.startMs - margin, window.endMs + margin];
  const touching = phases.filter((p) => (p.startMs >= from && p.startMs <= to) || (p.endMs >= from && p.endMs <= to));
  return [
    Math.max(from - 2 * margin, Math.min(from, ...touching.map((p) => p.startMs))),
    Math.min(to + 2 * margin, Math.max(to, ...touching.map((p) => p.endMs))),
  ];
}

function panel(phases: Phase[], span: [number, number] | null, title: string, zoomed: [number, number] | null) {
  const inSpan = (p: Phase) => !span || (p.endMs >= span[0] && p.startMs <= span[1]);
  const shown = phases.filter(inSpan);
  const order = [...new Set(shown.map((p) => p.name))];
  const y = { field: 'phase', type: 'nominal' as const, sort: order, title: null, axis: { labelLimit: labelLimitFor(order) } };
  const x = { type: 'quantitative', title: X_TITLE, scale: span ? { domain: span, nice: false } : {} };
  const side = { field: 'side', type: 'nominal', title: 'side' };
  const layers = new Layers()
    .add(
      {
        data: { values: zoomed ? [{ from: zoomed[0], to: zoomed[1] }] : [] },
        mark: { type: 'rect', color: ZOOM_COLOUR, opacity: 0.18 },
        encoding: { x: { field: 'from', ...x }, x2: { field: 'to' } },
      },
      {
        marktype: 'rect',
        colour: ZOOM_COLOUR,
        says: `${capitalised(colourName(ZOOM_COLOUR))} band in the whole timeline: the span the upper panel zooms into.`,
      },
    )
    .add(
      {
        data: { values: shown.filter((p) => !p.instant).map((p) => ({ phase: p.name, start: p.startMs, end: p.endMs, side: p.side ?? 'downtime window' })) },
        mark: { type: 'bar', height: 14, clip: true },
        encoding: { y, x: { field: 'start', ...x }, x2: { field: 'end' }, color: side },
      },
      { marktype: 'rect', says: 'Bars: phases from the traces, coloured by side (legend).' },
    )
    .add(
      {
        data: { values: shown.filter((p) => p.instant).map((p) => ({ phase: p.name, at: p.startMs, side: p.side ?? 'downtime window' })) },
        mark: { type: 'tick', thickness: 3, size: 18, clip: true },
        encoding: { y, x: { field: 'at', ...x }, color: side },
      },
      { marktype: 'rect', says: 'Ticks: instants (DRIVER_OK).' },
    )
    .add(
      { data: { values: [{ at: 0 }] }, mark: { type: 'rule', strokeDash: [4, 3], color: REFERENCE_COLOUR }, encoding: { x: { field: 'at', ...x } } },
      { marktype: 'rule', colour: REFERENCE_COLOUR, dashed: true, says: `${capitalised(colourName(REFERENCE_COLOUR))} dashed line: the source freeze.` },
    );
  return { layers, spec: { title: { text: title, anchor: 'start', fontSize: 12 }, width: 640, height: { step: 26 }, layer: layers.layers } };
}

/** Per cell: the phases of its representative migration(s) where the records carry phases. */
export function phaseCharts(summary: Summary): ChartSpec[] {
  const charts: ChartSpec[] = [];
  summary.cells.forEach((cell, i) => {
    const shown = shownMigrations(summary, cell);
    shown.forEach(({ row, why }, j) => {
      const phases: Phase[] = row.phases!;
      const span = zoomSpan(phases);
      // where every phase lies in the zoomed span, the whole timeline would draw the same picture again
      const outside = phases.some((p) => p.startMs < span[0] || p.endMs > span[1]);
      const zoom = panel(
        phases,
        span,
        outside ? `The downtime window, zoomed: ${span[0].toFixed(1)} to ${span[1].toFixed(1)} ms` : 'The downtime window and every phase',
        null,
      );
      const whole = outside ? [panel(phases, null, 'The whole timeline', span)] : [];
      // every sentence once: the panels share the bars, ticks and freeze line
      const keys = [...whole.flatMap((w) => w.layers.keys), ...zoom.layers.keys].filter((k, n, all) => all.findIndex((o) => o.says === k.says) === n);
      const group = shown.length > 1 ? ` (${j === 0 ? 'fast' : 'slow'} group)` : '';
      charts.push({
        id: `phases-${i + 1}${shown.length > 1 ? `-${j + 1}` : ''}`,
        title: `Phases: ${cell.label}, migration ${row.seq}${group}`,
        caption: [
          `Migration ${row.seq}, ${why} (${row.values[summary.primary]?.toFixed(1)} ms).`,
          ...keys.map((k) => k.says),
          row.phaseNotes.length ? `${row.phaseNotes.join('; ')}.` : '',
        ]
          .filter(Boolean)
          .join(' '),
        spec: { $schema: VEGA_LITE_SCHEMA, config, spacing: 24, vconcat: [zoom.spec, ...whole.map((w) => w.spec)] } as TopLevelSpec,
        keys,
      });
    });
  });
  return charts;
}
