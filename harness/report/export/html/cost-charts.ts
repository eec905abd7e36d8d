/** The cost side and the forest plot as Vega-Lite specs (pure): what a shorter downtime cost, and every before/after shift with its interval. */
import type { TopLevelSpec } from 'vega-lite';
import type { ChartSpec } from './charts.ts';
import {
  axisScale,
  capitalised,
  captionOf,
  colourName,
  config,
  INVALID_COLOUR,
  INVALID_LABEL,
  INVALID_SHAPE,
  invalidMark,
  Layers,
  REFERENCE_COLOUR,
  shapeLegend,
  VARIANT_COLOURS,
  VARIANT_SHAPES,
  VEGA_LITE_SCHEMA,
  variantColour,
} from './chart-style.ts';
import type { Key } from './chart-style.ts';
import type { MigrationCost, Summary } from '../../model/types.ts';

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

interface CostPoint {
  variant: string;
  size: string;
  downtime: number | null;
  cost: number;
  invalid: boolean;
}

/** The scatter's layers: shapes and colours in the legend only for what is drawn; invalid migrations as their own layer. */
function costLayers(
  summary: Summary,
  points: CostPoint[],
  { limits, sizes, x: xEnc, y: yEnc }: { limits: { variant: string; limit: number | null }[]; sizes: string[]; x: object; y: object },
): Layers {
  const drawnSizes = sizes.filter((size) => points.some((p) => !p.invalid && p.size === size));
  const invalid = points.filter((p) => p.invalid).map((p) => ({ ...p, size: INVALID_LABEL }));
  const colour = {
    field: 'variant',
    type: 'nominal',
    scale: variantColour(summary.variants, [...points.map((p) => p.variant), ...limits.map((l) => l.variant)]),
    title: 'variant',
  };
  const shapes = {
    domain: [...drawnSizes, ...(invalid.length ? [INVALID_LABEL] : [])],
    range: [...drawnSizes.map((size) => VARIANT_SHAPES[sizes.indexOf(size)]), INVALID_SHAPE],
  };
  return new Layers()
    .add(
      {
        data: { values: points.filter((p) => !p.invalid) },
        mark: { type: 'point', filled: true, size: 70, opacity: 0.85 },
        encoding: { x: xEnc, y: yEnc, color: colour, shape: { field: 'size', type: 'nominal', scale: shapes, title: 'VM size', legend: shapeLegend } },
      },
      { marktype: 'symbol', says: 'Shape: VM size; colour: variant.' },
    )
    .add(
      {
        data: { values: invalid },
        mark: invalidMark,
        encoding: { x: xEnc, y: yEnc, shape: { field: 'size', type: 'nominal', scale: shapes, legend: null } },
      },
      {
        marktype: 'symbol',
        colour: INVALID_COLOUR,
        says: `${capitalised(colourName(INVALID_COLOUR))} X marks are invalid migrations at their measured value (not in the statistics).`,
      },
    )
    .add(
      { data: { values: limits }, mark: { type: 'rule', strokeDash: [6, 4] }, encoding: { y: { field: 'limit', type: 'quantitative' }, color: colour } },
      { marktype: 'rule', dashed: true, says: "Dashed lines: each variant's configured downtime-limit, in its colour." },
    );
}

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
    const limits = [
      ...new Map(summary.cells.filter((c) => c.downtimeLimitMs !== null).map((c) => [c.variant, { variant: c.variant, limit: c.downtimeLimitMs }])).values(),
    ];
    const xEnc = { field: 'cost', type: 'quantitative', title: `${axis.title}${x.note}`, scale: x.scale };
    const yEnc = { field: 'downtime', type: 'quantitative', title: `downtime, ms (${summary.primary}${y.note})`, scale: y.scale };
    const layers = costLayers(summary, points, { limits, sizes, x: xEnc, y: yEnc });
    return [
      {
        id: axis.id,
        title: `Downtime against ${axis.title.split(',')[0]}`,
        caption: layers.caption(`One point per measured migration: ${axis.caption}.`),
        spec: { $schema: VEGA_LITE_SCHEMA, config, width: 560, height: 300, layer: layers.layers } as TopLevelSpec,
        keys: layers.keys,
      },
    ];
  });
}

const SHIFT_COLOUR = VARIANT_COLOURS[0];
const ZERO_LABEL = '0 = no change';

/** The zero line's label, just above the panel, turned away from the panel's edge when zero sits near one. */
function zeroLabel(rows: { lo: number; hi: number }[]) {
  const lo = Math.min(0, ...rows.map((r) => r.lo));
  const hi = Math.max(0, ...rows.map((r) => r.hi));
  const at = hi > lo ? -lo / (hi - lo) : 0.5;
  const align = at > 0.75 ? 'right' : at < 0.25 ? 'left' : 'center';
  return { type: 'text', fontSize: 10, color: REFERENCE_COLOUR, baseline: 'bottom', dy: -3, align, dx: align === 'right' ? -3 : align === 'left' ? 3 : 0 };
}

/** Every forest panel draws these three marks (forestPanel), so the caption names them all. */
const FOREST_KEYS: Key[] = [
  { marktype: 'rule', colour: SHIFT_COLOUR, says: `${capitalised(colourName(SHIFT_COLOUR))} line: the distribution-free interval;` },
  { marktype: 'symbol', colour: SHIFT_COLOUR, says: `${colourName(SHIFT_COLOUR)} diamond: the Hodges–Lehmann shift;` },
  {
    marktype: 'rule',
    colour: REFERENCE_COLOUR,
    dashed: true,
    says: `${colourName(REFERENCE_COLOUR)} dashed line: zero, labelled "0 = no change" on each panel.`,
  },
];

const FOREST_X = {
  type: 'quantitative',
  title: 'shift, ms (candidate − baseline)',
  scale: { zero: true, nice: true },
};

/** One metric's panel: its shifts and intervals per size on the metric's own scale, zero drawn and labelled. */
function forestPanel(metric: { label: string; primary: boolean }, rows: { label: string; shift: number; lo: number; hi: number; zero: number }[]) {
  const x = FOREST_X;
  const y = { field: 'label', type: 'nominal', title: null, sort: rows.map((r) => r.label), axis: { labelLimit: 320 } };
  return {
    title: { text: `${metric.label}${metric.primary ? ' (primary)' : ''}`, anchor: 'start', fontSize: 12, offset: 16 },
    width: 560,
    height: { step: 24 },
    data: { values: rows },
    layer: [
      { mark: { type: 'rule', strokeWidth: 2, color: SHIFT_COLOUR }, encoding: { y, x: { field: 'lo', ...x }, x2: { field: 'hi' } } },
      { mark: { type: 'point', filled: true, size: 70, shape: 'diamond', color: SHIFT_COLOUR }, encoding: { y, x: { field: 'shift', ...x } } },
      { mark: { type: 'rule', strokeDash: [4, 3], color: REFERENCE_COLOUR }, encoding: { x: { field: 'zero', ...x } } },
      {
        data: { values: [{ zero: 0, text: ZERO_LABEL }] },
        mark: zeroLabel(rows),
        encoding: { x: { field: 'zero', ...x }, y: { value: 0 }, text: { field: 'text' } },
      },
    ],
  };
}

/**
 * Every before/after shift with its Hodges–Lehmann interval, one panel per metric, each on its own
 * scale with zero on it and labelled: a millisecond shift of one metric is not flattened onto the
 * zero line by a seconds-long shift of another.
 */
export function forestChart(summary: Summary): ChartSpec[] {
  const panels = summary.metrics.flatMap((metric) => {
    const rows = summary.comparisons.flatMap((row) => {
      const c = row.metrics[metric.name];
      if (!c || 'error' in c) return [];
      const [lo, hi] = c.hodgesLehmann.ci;
      return [{ label: `${row.vmSize}${row.queuePairs !== null ? ` ${row.queuePairs}qp` : ''}`, shift: c.hodgesLehmann.shift, lo, hi, zero: 0 }];
    });
    return rows.length ? [{ metric, rows }] : [];
  });
  if (!panels.length) return [];
  return [
    {
      id: 'forest',
      title: `Every before/after shift: ${summary.settings.candidate} − ${summary.settings.baseline}`,
      caption: captionOf(
        FOREST_KEYS,
        'One panel per metric, each on its own scale.',
        `Each interval's achieved level is in the before/after table (exact intervals of tiny samples cannot reach 95%). Left of zero: shorter with ${summary.settings.candidate}.`,
      ),
      spec: {
        $schema: VEGA_LITE_SCHEMA,
        config,
        spacing: 28,
        vconcat: panels.map(({ metric, rows }) => forestPanel(metric, rows)),
      } as TopLevelSpec,
      keys: FOREST_KEYS,
    },
  ];
}
