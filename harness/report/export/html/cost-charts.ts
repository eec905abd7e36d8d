/** The cost side and the forest plot as Vega-Lite specs (pure): what a shorter downtime cost, and every before/after shift with its interval. */
import type { TopLevelSpec } from 'vega-lite';
import type { ChartSpec } from './charts.ts';
import { axisScale, config, INVALID_SHAPE, invalidMark, shapeLegend, VARIANT_SHAPES, VEGA_LITE_SCHEMA, variantColour } from './chart-style.ts';
import type { MigrationCost, Summary } from '../../model/types.ts';

const INVALID_LABEL = 'invalid (not in statistics)';

const COST_AXES: { key: keyof MigrationCost; id: string; title: string; scaleBy: number; caption: string }[] = [
  {
    key: 'totalTimeMs',
    id: 'cost-total-time',
    title: 'total migration time, ms (QMP total-time)',
    scaleBy: 1,
    caption: 'what the downtime cost in migration time',
  },
  {
    key: 'downtimeBytes',
    id: 'cost-bytes-stopped',
    title: 'MB sent while the guest was stopped (QMP downtime-bytes)',
    scaleBy: 1e-6,
    caption: 'how much RAM was still left when the guest stopped',
  },
];

/** Downtime against the cost side, one point per measured migration (invalid ones as black X at their value). */
export function costCharts(summary: Summary): ChartSpec[] {
  const measured = summary.migrations.filter((r) => !r.warmup && r.status !== 'failed' && r.values[summary.primary] !== null);
  const sizes = [...new Set(summary.cells.map((c) => c.vmSize))];
  return COST_AXES.flatMap((axis) => {
    const points = measured
      .filter((r) => r.cost[axis.key] !== null)
      .map((r) => ({
        seq: r.seq,
        variant: r.variant,
        size: r.vmSize,
        downtime: r.values[summary.primary],
        cost: r.cost[axis.key]! * axis.scaleBy,
        invalid: r.status === 'invalid',
      }));
    if (!points.length) return [];
    const y = axisScale(points.map((p) => p.downtime!));
    const x = axisScale(points.map((p) => p.cost));
    const limits = summary.cells.filter((c) => c.downtimeLimitMs !== null).map((c) => ({ variant: c.variant, limit: c.downtimeLimitMs }));
    const xEnc = { field: 'cost', type: 'quantitative', title: `${axis.title}${x.note}`, scale: x.scale };
    const yEnc = { field: 'downtime', type: 'quantitative', title: `downtime, ms (${summary.primary}${y.note})`, scale: y.scale };
    const layers: unknown[] = [
      {
        data: { values: points.filter((p) => !p.invalid) },
        mark: { type: 'point', filled: true, size: 70, opacity: 0.85 },
        encoding: {
          x: xEnc,
          y: yEnc,
          color: { field: 'variant', type: 'nominal', scale: variantColour(summary.variants), title: 'variant' },
          shape: {
            field: 'size',
            type: 'nominal',
            scale: { domain: [...sizes, INVALID_LABEL], range: [...VARIANT_SHAPES.slice(0, sizes.length), INVALID_SHAPE] },
            title: 'VM size',
            legend: shapeLegend,
          },
        },
      },
      { data: { values: points.filter((p) => p.invalid) }, mark: invalidMark, encoding: { x: xEnc, y: yEnc } },
    ];
    if (limits.length)
      layers.push({
        data: { values: [...new Map(limits.map((l) => [l.variant, l])).values()] },
        mark: { type: 'rule', strokeDash: [6, 4] },
        encoding: {
          y: { field: 'limit', type: 'quantitative' },
          color: { field: 'variant', type: 'nominal', scale: variantColour(summary.variants), title: 'variant' },
        },
      });
    return [
      {
        id: axis.id,
        title: `Downtime against ${axis.title.split(',')[0]}`,
        caption: `One point per measured migration: ${axis.caption}. Shape: VM size; colour: variant; black X marks are invalid migrations at their measured value (not in the statistics). Dashed lines: each variant's downtime-limit.`,
        spec: { $schema: VEGA_LITE_SCHEMA, config, width: 560, height: 300, layer: layers } as TopLevelSpec,
      },
    ];
  });
}

/** Every before/after shift (per VM size and metric) with its Hodges–Lehmann interval, against zero. */
export function forestChart(summary: Summary): ChartSpec[] {
  const rows = summary.comparisons.flatMap((row) =>
    Object.entries(row.metrics).flatMap(([metric, c]) =>
      'error' in c
        ? []
        : [
            {
              label: `${row.vmSize}${row.queuePairs !== null ? ` ${row.queuePairs}qp` : ''} · ${metric}${metric === summary.primary ? ' (primary)' : ''}`,
              shift: c.hodgesLehmann.shift,
              lo: c.hodgesLehmann.ci[0],
              hi: c.hodgesLehmann.ci[1],
              level: `${(c.hodgesLehmann.achievedConfidence * 100).toFixed(1)}%`,
              primary: metric === summary.primary ? 'primary metric' : 'other metric',
            },
          ],
    ),
  );
  if (!rows.length) return [];
  const y = { field: 'label', type: 'nominal', title: null, sort: rows.map((r) => r.label), axis: { labelLimit: 320 } };
  return [
    {
      id: 'forest',
      title: `Every before/after shift: ${summary.settings.candidate} − ${summary.settings.baseline}`,
      caption: `Hodges–Lehmann shift (point) with its distribution-free interval (line; its achieved level is in the before/after table, exact intervals of tiny samples cannot reach 95%). Left of the zero line: shorter downtime with ${summary.settings.candidate}.`,
      spec: {
        $schema: VEGA_LITE_SCHEMA,
        config,
        width: 560,
        height: { step: 24 },
        data: { values: rows },
        layer: [
          {
            mark: { type: 'rule', strokeWidth: 2 },
            encoding: {
              y,
              x: { field: 'lo', type: 'quantitative', title: 'shift, ms (candidate − baseline)' },
              x2: { field: 'hi' },
              color: { field: 'primary', type: 'nominal', scale: { domain: ['primary metric', 'other metric'], range: ['#0072B2', '#999999'] }, title: null },
            },
          },
          {
            mark: { type: 'point', filled: true, size: 70, shape: 'diamond' },
            encoding: { y, x: { field: 'shift', type: 'quantitative' }, color: { field: 'primary', type: 'nominal', title: null } },
          },
          {
            data: { values: [{ zero: 0 }] },
            mark: { type: 'rule', strokeDash: [4, 3], color: '#555' },
            encoding: { x: { field: 'zero', type: 'quantitative' } },
          },
        ],
      } as TopLevelSpec,
    },
  ];
}
