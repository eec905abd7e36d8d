/**
 * What every report chart shares (pure): fonts, a palette that stays apart for colour-blind readers
 * and in grayscale (Okabe–Ito colours, each variant also its own shape), the marks for warm-up and
 * invalid migrations, and the rule for a log axis.
 */
export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const FONT = 'system-ui, sans-serif';
export const config = {
  font: FONT,
  axis: { labelFontSize: 11, titleFontSize: 12, labelLimit: 320 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
  view: { stroke: '#ccc' },
};

/** Okabe & Ito (2008): distinct for the common colour-vision deficiencies; their lightness differs, so grayscale keeps most apart. */
export const VARIANT_COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#999999'];
export const VARIANT_SHAPES = ['circle', 'square', 'triangle-up', 'diamond', 'triangle-down', 'triangle-right', 'triangle-left', 'wedge'];
/** An X drawn in black: nothing else in a chart uses it, in colour or in grayscale. */
export const INVALID_SHAPE = 'M-1,-1L1,1M-1,1L1,-1';
export const INVALID_COLOUR = '#000000';

export const KIND = {
  measured: 'measured',
  warmup: 'warm-up (not in statistics)',
  invalid: 'invalid (not in statistics)',
  outlier: 'outlier (kept)',
} as const;

export const kindScale = { domain: [KIND.measured, KIND.outlier, KIND.warmup, KIND.invalid], range: ['circle', 'diamond', 'square', INVALID_SHAPE] };

export function variantColour(variants: string[]) {
  return { domain: variants, range: variants.map((_, i) => VARIANT_COLOURS[i % VARIANT_COLOURS.length]) };
}

/** A log axis when the values span more than 10×: one idle control must not squeeze the compared pair into a corner. */
export function axisScale(values: number[]): { scale: { type: 'log' | 'linear'; zero?: boolean }; note: string } {
  const positive = values.filter((v) => v > 0);
  if (positive.length && Math.max(...positive) / Math.min(...positive) > 10 && positive.length === values.length)
    return { scale: { type: 'log' }, note: ', log scale' };
  return { scale: { type: 'linear', zero: false }, note: '' };
}

/** The legend draws each shape outlined, so the invalid X (a stroke, not an area) shows there too. */
export const shapeLegend = { symbolStrokeColor: '#000000', symbolStrokeWidth: 1.5, symbolFillColor: '#666666' };
/** Invalid migrations as their own layer: a black X, stroked, at the measured value. */
export const invalidMark = { type: 'point', shape: INVALID_SHAPE, filled: false, size: 110, strokeWidth: 2.2, color: INVALID_COLOUR, opacity: 1 };

/** Deterministic jitter in [0, 1) so the same data always draws the same picture. */
export const jitter = (seq: number) => (((seq * 0.6180339887) % 1) + 1) % 1;

export const groupKey = (r: { vmSize: string; queuePairs: number | null }) => `${r.vmSize}|${r.queuePairs ?? '-'}`;
export const groupLabel = (r: { vmSize: string; queuePairs: number | null }) =>
  `${r.vmSize} VM${r.queuePairs !== null ? `, ${r.queuePairs} queue pair${r.queuePairs === 1 ? '' : 's'}` : ''}`;
