/**
 * Vega-Lite specs for the HTML report (pure): data in, spec out. Field names are fixed here; labels
 * from the profile or traces travel only as data values and titles, which Vega escapes in SVG text.
 * Invalid migrations are drawn at their measured value with their own mark, never at 0.
 */
import type { TopLevelSpec } from 'vega-lite';
import { axisScale, config, groupKey, groupLabel, invalidMark, jitter, KIND, kindScale, shapeLegend, VEGA_LITE_SCHEMA, variantColour } from './chart-style.ts';
import { MIN_N_FOR_INTERVAL, type MigrationRow, type Summary } from '../../model/types.ts';

export interface ChartSpec {
  id: string;
  title: string;
  caption: string;
  spec: TopLevelSpec;
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

/** Per VM size: each variant's measured migrations as points, with a box only where n supports one. */
export function distributionCharts(summary: Summary): ChartSpec[] {
  return groups(summary).map((g, i) => {
    const rows = drawable(
      summary.migrations.filter((r) => groupKey(r) === g.key && !r.warmup),
      summary.primary,
    );
    const variants = summary.variants.filter((v) => rows.some((r) => r.variant === v));
    const boxed = variants.filter(
      (v) => (summary.cells.find((c) => c.variant === v && groupKey(c) === g.key)?.metrics[summary.primary]?.n ?? 0) >= MIN_N_FOR_INTERVAL,
    );
    const points = rows.map((r) => ({ seq: r.seq, variant: r.variant, downtime: r.values[summary.primary], jitter: jitter(r.seq), kind: kindOf(r) }));
    const scale = axisScale(points.map((p) => p.downtime!));
    const y = { field: 'variant', type: 'nominal' as const, title: null, sort: variants, axis: { labelLimit: 220 } };
    const x = { field: 'downtime', type: 'quantitative' as const, title: `downtime, ms (${summary.primary}${scale.note})`, scale: scale.scale };
    const medians = variants
      .map((v) => ({ variant: v, downtime: summary.cells.find((c) => c.variant === v && groupKey(c) === g.key)?.metrics[summary.primary]?.median ?? null }))
      .filter((m) => m.downtime !== null);
    const layers: unknown[] = [];
    if (boxed.length) {
      layers.push({
        data: { values: points.filter((p) => boxed.includes(p.variant) && p.kind !== KIND.invalid) },
        mark: {
          type: 'boxplot',
          extent: 'min-max',
          size: 26,
          box: { color: '#c6dbef', stroke: '#6b8fb3' },
          median: { color: '#08306b', size: 26 },
          rule: { color: '#6b8fb3' },
          ticks: { color: '#6b8fb3', size: 12 },
        },
        encoding: { y, x },
      });
    }
    layers.push({ data: { values: medians }, mark: { type: 'tick', thickness: 3, size: 30, color: '#08306b' }, encoding: { y, x } });
    const yOffset = { field: 'jitter', type: 'quantitative', scale: { domain: [0, 1], range: [BAND_STEP / 2 - 13, BAND_STEP / 2 + 13] } };
    layers.push({
      data: { values: points.filter((p) => p.kind !== KIND.invalid) },
      mark: { type: 'point', filled: true, size: 60, opacity: 0.9 },
      encoding: {
        y,
        x,
        yOffset,
        shape: { field: 'kind', type: 'nominal', scale: kindScale, title: 'migration', legend: shapeLegend },
        color: { field: 'variant', type: 'nominal', scale: variantColour(summary.variants), legend: null },
      },
    });
    layers.push({ data: { values: points.filter((p) => p.kind === KIND.invalid) }, mark: invalidMark, encoding: { y, x, yOffset } });
    const small = variants.filter((v) => !boxed.includes(v));
    return {
      id: `distribution-${i + 1}`,
      title: `Distribution: ${g.label}`,
      caption: `Every measured migration is a point (vertical jitter only); the dark tick is the median of the ok ones. ${boxed.length ? `Box: quartiles, whiskers min–max, drawn from n = ${MIN_N_FOR_INTERVAL} on. ` : ''}${small.length ? `${small.join(', ')}: n too small for a box or an interval (points and median only). ` : ''}Invalid migrations are black X marks at their measured value, left out of the statistics. Metric: ${summary.primary}.`,
      spec: { $schema: VEGA_LITE_SCHEMA, config, width: 640, height: { step: BAND_STEP }, layer: layers } as TopLevelSpec,
    };
  });
}

/** Per VM size: every migration in run order at its value, with the variants' downtime-limits as reference lines. */
export function runOrderCharts(summary: Summary): ChartSpec[] {
  return groups(summary).map((g, i) => {
    const runs = new Set(summary.migrations.map((r) => r.run)).size > 1;
    // Two runs number their migrations from 1 each: place them one after the other instead.
    const position = new Map(summary.migrations.map((r, index) => [r, runs ? index + 1 : r.seq]));
    const rows = summary.migrations.filter((r) => groupKey(r) === g.key);
    const points = drawable(rows, summary.primary).map((r) => ({
      order: position.get(r)!,
      variant: r.variant,
      downtime: r.values[summary.primary],
      kind: kindOf(r),
    }));
    const failed = rows.filter((r) => r.status === 'failed' || r.values[summary.primary] === null);
    const limits = summary.cells
      .filter((c) => groupKey(c) === g.key && c.downtimeLimitMs !== null)
      .map((c) => ({ variant: c.variant, limit: c.downtimeLimitMs }));
    const scale = axisScale([...points.map((p) => p.downtime!), ...limits.map((l) => l.limit!)]);
    const colour = { field: 'variant', type: 'nominal', scale: variantColour(summary.variants), title: 'variant' };
    const x = {
      field: 'order',
      type: 'quantitative',
      axis: { tickMinStep: 1, format: 'd' },
      title: runs ? 'migration (run order; the candidate run after the baseline run)' : 'migration (run order, seq)',
    };
    const y = { field: 'downtime', type: 'quantitative', title: `downtime, ms (${summary.primary}${scale.note})`, scale: scale.scale };
    const layers: unknown[] = [
      {
        data: { values: points.filter((p) => p.kind !== KIND.invalid) },
        mark: { type: 'line', strokeOpacity: 0.35 },
        encoding: { x, y, color: colour, detail: { field: 'variant' } },
      },
      {
        data: { values: points.filter((p) => p.kind !== KIND.invalid) },
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x,
          y,
          shape: { field: 'kind', type: 'nominal', scale: kindScale, title: 'migration', legend: shapeLegend },
          color: colour,
          opacity: { condition: { test: `datum.kind === '${KIND.warmup}'`, value: 0.5 }, value: 1 },
        },
      },
      { data: { values: points.filter((p) => p.kind === KIND.invalid) }, mark: invalidMark, encoding: { x, y } },
    ];
    if (limits.length)
      layers.push({
        data: { values: limits },
        mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 1.5 },
        encoding: { y: { field: 'limit', type: 'quantitative' }, color: colour },
      });
    return {
      id: `run-order-${i + 1}`,
      title: `Run order: ${g.label}`,
      caption: `Every migration of this VM size in the order it ran: drift and warm-up effects show here. Circles are measured migrations, squares (faded) warm-ups, diamonds outliers (kept), black X marks invalid migrations at their measured value (not in the statistics).${limits.length ? " Dashed lines: each variant's configured downtime-limit." : ''}${failed.length ? ` ${failed.length} migration(s) without a value (failed) are not drawn; see the failures table.` : ''}`,
      spec: { $schema: VEGA_LITE_SCHEMA, config, width: 640, height: 240, layer: layers } as TopLevelSpec,
    };
  });
}
