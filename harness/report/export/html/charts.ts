/**
 * Vega-Lite specs for the HTML report (pure): data in, spec out. Field names are fixed here; labels
 * from the profile or traces travel only as data values and titles, which Vega escapes in SVG text.
 * Invalid migrations are drawn at their measured value with their own mark, never at 0.
 */
import type { TopLevelSpec } from 'vega-lite';
import {
  axisScale,
  capitalised,
  colourName,
  config,
  groupKey,
  groupLabel,
  INVALID_COLOUR,
  invalidMark,
  jitter,
  KIND,
  kindScale,
  labelLimitFor,
  Layers,
  MEDIAN_COLOUR,
  shapeLegend,
  VEGA_LITE_SCHEMA,
  variantColour,
} from './chart-style.ts';
import type { Key } from './chart-style.ts';
import { MIN_N_FOR_INTERVAL, type MigrationRow, type Summary } from '../../model/types.ts';

export interface ChartSpec {
  id: string;
  title: string;
  /** Made from `keys` and what applies to the whole chart: it names only what is drawn. */
  caption: string;
  spec: TopLevelSpec;
  /** What the caption says about each drawn layer (for the test that holds captions to the scene). */
  keys: Key[];
}

const BAND_STEP = 46;

export function groups(summary: Summary): { key: string; label: string; vmSize: string; queuePairs: number | null }[] {
  const seen = new Map<string, { key: string; label: string; vmSize: string; queuePairs: number | null }>();
  for (const c of summary.cells)
    if (!seen.has(groupKey(c))) seen.set(groupKey(c), { key: groupKey(c), label: groupLabel(c), vmSize: c.vmSize, queuePairs: c.queuePairs });
  return [...seen.values()];
}

function kindOf(row: MigrationRow): string {
  if (row.status === 'invalid') return KIND.invalid;
  if (row.warmup) return KIND.warmup;
  return row.outlier ? KIND.outlier : KIND.measured;
}

/** Rows drawn at a value: ok and invalid migrations with a primary value (failed ones have none). */
const drawable = (rows: MigrationRow[], primary: string) =>
  rows.filter((r) => r.status !== 'failed' && r.values[primary] !== null && r.values[primary] !== undefined);

interface DistributionPoint {
  variant: string;
  downtime: number | null;
  jitter: number;
  kind: string;
}

function distributionLayers(
  summary: Summary,
  d: { points: DistributionPoint[]; boxed: string[]; medians: unknown[]; variants: string[]; x: object; y: object; split: boolean },
): Layers {
  const { points, boxed, medians, variants, x, y, split } = d;
  const layers = new Layers();
  const box = points.filter((p) => boxed.includes(p.variant) && p.kind !== KIND.invalid);
  layers.add(
    {
      data: { values: box },
      mark: {
        type: 'boxplot',
        extent: 'min-max',
        size: 26,
        box: { color: '#c6dbef', stroke: '#6b8fb3' },
        median: { color: MEDIAN_COLOUR, size: 26 },
        rule: { color: '#6b8fb3' },
        ticks: { color: '#6b8fb3', size: 12 },
      },
      encoding: { y, x },
    },
    { marktype: 'rule', says: `Box: quartiles, whiskers min–max, drawn from n = ${MIN_N_FOR_INTERVAL} on.` },
  );
  layers.add(
    { data: { values: medians }, mark: { type: 'tick', thickness: 3, size: 30, color: MEDIAN_COLOUR }, encoding: { y, x } },
    {
      marktype: 'rect',
      colour: MEDIAN_COLOUR,
      says: `The ${colourName(MEDIAN_COLOUR)} tick is the median of the ok ones${split ? ' (of each group, where a cell splits in two)' : ''}.`,
    },
  );
  const yOffset = { field: 'jitter', type: 'quantitative', scale: { domain: [0, 1], range: [BAND_STEP / 2 - 13, BAND_STEP / 2 + 13] } };
  const kinds = [...new Set(points.map((p) => p.kind))];
  layers.add(
    {
      data: { values: points.filter((p) => p.kind !== KIND.invalid) },
      mark: { type: 'point', filled: true, size: 60, opacity: 0.9 },
      encoding: {
        y,
        x,
        yOffset,
        shape: { field: 'kind', type: 'nominal', scale: kindScale(kinds), title: 'migration', legend: shapeLegend },
        color: { field: 'variant', type: 'nominal', scale: variantColour(summary.variants, variants), legend: null },
      },
    },
    { marktype: 'symbol', says: "Every measured migration is a point (vertical jitter only), in its variant's colour, shaped by its kind (legend)." },
  );
  layers.add(
    { data: { values: points.filter((p) => p.kind === KIND.invalid) }, mark: invalidMark, encoding: { y, x, yOffset } },
    {
      marktype: 'symbol',
      colour: INVALID_COLOUR,
      says: `Invalid migrations are ${colourName(INVALID_COLOUR)} X marks at their measured value, left out of the statistics.`,
    },
  );
  return layers;
}

/** Per VM size: each variant's measured migrations as points, with a box only where n supports one. */
export function distributionCharts(summary: Summary): ChartSpec[] {
  return groups(summary).map((g, i) => {
    const rows = drawable(
      summary.migrations.filter((r) => groupKey(r) === g.key && !r.warmup),
      summary.primary,
    );
    const variants = summary.variants.filter((v) => rows.some((r) => r.variant === v));
    const cellOf = (v: string) => summary.cells.find((c) => c.variant === v && groupKey(c) === g.key);
    // a cell in two groups gets a median tick per group and no box: one box and one median would describe neither group
    const splitOf = (v: string) => summary.tradeOff?.groups.find((s) => s.cellKey === cellOf(v)?.key)?.groups ?? null;
    const split = variants.filter((v) => splitOf(v));
    const boxed = variants.filter((v) => !splitOf(v) && (cellOf(v)?.metrics[summary.primary]?.n ?? 0) >= MIN_N_FOR_INTERVAL);
    const points = rows.map((r) => ({ seq: r.seq, variant: r.variant, downtime: r.values[summary.primary], jitter: jitter(r.seq), kind: kindOf(r) }));
    const scale = axisScale(points.map((p) => p.downtime!));
    const y = { field: 'variant', type: 'nominal' as const, title: null, sort: variants, axis: { labelLimit: Math.max(220, labelLimitFor(variants)) } };
    const x = { field: 'downtime', type: 'quantitative' as const, title: `downtime, ms (${summary.primary}${scale.note})`, scale: scale.scale };
    const medians = variants
      .flatMap((v) => {
        const two = splitOf(v);
        return two
          ? [two.low.median, two.high.median].map((downtime) => ({ variant: v, downtime }))
          : [{ variant: v, downtime: cellOf(v)?.metrics[summary.primary]?.median ?? null }];
      })
      .filter((m) => m.downtime !== null);
    const layers = distributionLayers(summary, { points, boxed, medians, variants, x, y, split: split.length > 0 });
    const small = variants.filter((v) => !boxed.includes(v) && !split.includes(v));
    return {
      id: `distribution-${i + 1}`,
      title: `Distribution: ${g.label}`,
      caption: layers.caption(
        '',
        `${small.length ? `${small.join(', ')}: n too small for a box or an interval (points and median only). ` : ''}${split.length ? `${split.join(', ')}: two groups (a median tick for each, no box). ` : ''}Metric: ${summary.primary}.`,
      ),
      spec: { $schema: VEGA_LITE_SCHEMA, config, width: 640, height: { step: BAND_STEP }, layer: layers.layers } as TopLevelSpec,
      keys: layers.keys,
    };
  });
}

/**
 * Consecutive migrations of one variant in one block (one guest boot) form a run-order block; a
 * line joins a variant's points only within one, never across the other variant's blocks.
 */
function runOrderBlocks(rows: MigrationRow[]): Map<MigrationRow, number> {
  const blocks = new Map<MigrationRow, number>();
  let block = 0;
  rows.forEach((r, i) => {
    const before = rows[i - 1];
    if (before && (before.variant !== r.variant || before.block !== r.block || before.run !== r.run)) block++;
    blocks.set(r, block);
  });
  return blocks;
}

const KIND_WORDS: Record<string, string> = {
  [KIND.measured]: 'circles are measured migrations',
  [KIND.warmup]: 'squares (faded) warm-ups',
  [KIND.outlier]: 'diamonds outliers (kept)',
};

function runOrderLayers(
  points: { order: number; variant: string; block: number; downtime: number | null; kind: string }[],
  limits: { variant: string; limit: number | null }[],
  { x, y, colour }: { x: object; y: object; colour: object },
): Layers {
  const valid = points.filter((p) => p.kind !== KIND.invalid);
  const kinds = [...new Set(points.map((p) => p.kind))];
  return new Layers()
    .add(
      { data: { values: valid }, mark: { type: 'line', strokeOpacity: 0.35 }, encoding: { x, y, color: colour, detail: { field: 'block' } } },
      { marktype: 'line', says: "Faint lines join a variant's migrations within one block (one guest boot), never across another block." },
    )
    .add(
      {
        data: { values: valid },
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x,
          y,
          shape: { field: 'kind', type: 'nominal', scale: kindScale(kinds), title: 'migration', legend: shapeLegend },
          color: colour,
          opacity: { condition: { test: `datum.kind === '${KIND.warmup}'`, value: 0.5 }, value: 1 },
        },
      },
      {
        marktype: 'symbol',
        says: `Colour: variant; ${kinds
          .filter((k) => KIND_WORDS[k])
          .map((k) => KIND_WORDS[k])
          .join(', ')}.`,
      },
    )
    .add(
      { data: { values: points.filter((p) => p.kind === KIND.invalid) }, mark: invalidMark, encoding: { x, y } },
      {
        marktype: 'symbol',
        colour: INVALID_COLOUR,
        says: `${capitalised(colourName(INVALID_COLOUR))} X marks: invalid migrations at their measured value (not in the statistics).`,
      },
    )
    .add(
      {
        data: { values: limits },
        mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 1.5 },
        encoding: { y: { field: 'limit', type: 'quantitative' }, color: colour },
      },
      { marktype: 'rule', dashed: true, says: "Dashed lines: each variant's configured downtime-limit, in its colour." },
    );
}

/** Per VM size: every migration in run order at its value, with the variants' downtime-limits as reference lines. */
export function runOrderCharts(summary: Summary): ChartSpec[] {
  return groups(summary).map((g, i) => {
    const runs = new Set(summary.migrations.map((r) => r.run)).size > 1;
    // Two runs number their migrations from 1 each: place them one after the other instead.
    const position = new Map(summary.migrations.map((r, index) => [r, runs ? index + 1 : r.seq]));
    const rows = summary.migrations.filter((r) => groupKey(r) === g.key);
    const block = runOrderBlocks(rows);
    const points = drawable(rows, summary.primary).map((r) => ({
      order: position.get(r)!,
      variant: r.variant,
      block: block.get(r)!,
      downtime: r.values[summary.primary],
      kind: kindOf(r),
    }));
    const failed = rows.filter((r) => r.status === 'failed' || r.values[summary.primary] === null);
    const limits = summary.cells
      .filter((c) => groupKey(c) === g.key && c.downtimeLimitMs !== null)
      .map((c) => ({ variant: c.variant, limit: c.downtimeLimitMs }));
    const scale = axisScale([...points.map((p) => p.downtime!), ...limits.map((l) => l.limit!)]);
    const drawn = [...new Set([...points.map((p) => p.variant), ...limits.map((l) => l.variant)])];
    const colour = { field: 'variant', type: 'nominal', scale: variantColour(summary.variants, drawn), title: 'variant' };
    const x = {
      field: 'order',
      type: 'quantitative',
      axis: { tickMinStep: 1, format: 'd' },
      title: runs ? 'migration (run order; the candidate run after the baseline run)' : 'migration (run order, seq)',
    };
    const y = { field: 'downtime', type: 'quantitative', title: `downtime, ms (${summary.primary}${scale.note})`, scale: scale.scale };
    const layers = runOrderLayers(points, limits, { x, y, colour });
    return {
      id: `run-order-${i + 1}`,
      title: `Run order: ${g.label}`,
      caption: layers.caption(
        'Every migration of this VM size in the order it ran: drift and warm-up effects show here.',
        failed.length
          ? `${failed.length} migration(s) without a ${summary.primary} value (failed, or invalid with it missing) are not drawn; see the failures table.`
          : '',
      ),
      spec: { $schema: VEGA_LITE_SCHEMA, config, width: 640, height: 240, layer: layers.layers } as TopLevelSpec,
      keys: layers.keys,
    };
  });
}
