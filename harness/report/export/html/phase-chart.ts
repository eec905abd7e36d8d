/** The phase timeline as Vega-Lite specs (pure): per cell, the phases of its representative migration (closest to the median). */
import type { TopLevelSpec } from 'vega-lite';
import type { Phase } from '../../model/phases.ts';
import type { Summary } from '../../model/types.ts';
import { config, VEGA_LITE_SCHEMA } from './chart-style.ts';
import type { ChartSpec } from './charts.ts';

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
    const title = 'ms from the source freeze (start of the downtime window)';
    const layers: unknown[] = [];
    if (bars.length)
      layers.push({
        data: { values: bars },
        mark: { type: 'bar', height: 14 },
        encoding: { y, x: { field: 'start', type: 'quantitative', title }, x2: { field: 'end' }, color: { field: 'side', type: 'nominal', title: 'side' } },
      });
    if (instants.length)
      layers.push({
        data: { values: instants },
        mark: { type: 'tick', thickness: 3, size: 18 },
        encoding: { y, x: { field: 'at', type: 'quantitative', title }, color: { field: 'side', type: 'nominal', title: 'side' } },
      });
    layers.push({
      data: { values: [{ at: 0 }] },
      mark: { type: 'rule', strokeDash: [4, 3], color: '#555' },
      encoding: { x: { field: 'at', type: 'quantitative' } },
    });
    charts.push({
      id: `phases-${i + 1}`,
      title: `Phases: ${cell.label}, migration ${row.seq}`,
      caption: `The migration closest to the cell's median downtime (${row.values[summary.primary]?.toFixed(1)} ms). The dashed line is the source freeze; bars are phases from the traces, ticks are instants.${row.phaseNotes.length ? ` ${row.phaseNotes.join('; ')}.` : ''}`,
      spec: { $schema: VEGA_LITE_SCHEMA, config, width: 640, height: { step: 26 }, layer: layers } as TopLevelSpec,
    });
  });
  return charts;
}
