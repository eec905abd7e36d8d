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

/**
 * Every colour a report chart draws with, and the word its caption uses for it: a caption names a
 * colour only through this table, so it cannot say "red" for an orange band.
 */
export const COLOUR_NAMES: Readonly<Record<string, string>> = {
  '#0072B2': 'blue',
  '#E69F00': 'orange',
  '#009E73': 'green',
  '#CC79A7': 'pink',
  '#56B4E9': 'sky blue',
  '#D55E00': 'vermillion',
  '#F0E442': 'yellow',
  '#999999': 'light grey',
  '#555555': 'dark grey',
  '#000000': 'black',
  '#08306B': 'dark blue',
};
export function colourName(colour: string): string {
  const name = COLOUR_NAMES[colour.toUpperCase()];
  if (!name) throw new Error(`chart colour ${colour} has no name in COLOUR_NAMES`);
  return name;
}
/**
 * Pixels that fit the longest label whole: Vega's headless renderer, which makes the report's SVG,
 * cannot measure text and reserves 0.8 × the font size per character, cutting what exceeds the limit.
 */
export const labelLimitFor = (labels: readonly string[], fontSize = 11) => Math.ceil(Math.max(0, ...labels.map((l) => l.length)) * fontSize * 0.8) + 8;

export const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** The source freeze (x = 0) and zero lines: dashed, dark grey. */
export const REFERENCE_COLOUR = '#555555';
export const MEDIAN_COLOUR = '#08306B';

/** Okabe & Ito (2008): distinct for the common colour-vision deficiencies; their lightness differs, so grayscale keeps most apart. */
export const VARIANT_COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#999999'];
export const VARIANT_SHAPES = ['circle', 'square', 'triangle-up', 'diamond', 'triangle-down', 'triangle-right', 'triangle-left', 'wedge'];
/** An X drawn in black: nothing else in a chart uses it, in colour or in grayscale. */
export const INVALID_SHAPE = 'M-1,-1L1,1M-1,1L1,-1';
export const INVALID_COLOUR = '#000000';
export const INVALID_LABEL = 'invalid (not in statistics)';

export const KIND = {
  measured: 'measured',
  warmup: 'warm-up (not in statistics)',
  invalid: INVALID_LABEL,
  outlier: 'outlier (kept)',
} as const;

const KIND_SHAPES: Record<string, string> = { [KIND.measured]: 'circle', [KIND.outlier]: 'diamond', [KIND.warmup]: 'square', [KIND.invalid]: INVALID_SHAPE };
/** The shape of each kind of migration, with legend entries only for the kinds the chart draws. */
export function kindScale(drawn: readonly string[]) {
  const domain = Object.keys(KIND_SHAPES).filter((k) => drawn.includes(k));
  return { domain, range: domain.map((k) => KIND_SHAPES[k]) };
}

/** Each variant keeps its colour in every chart (its place among all variants); the legend lists only those drawn. */
export function variantColour(variants: string[], drawn: readonly string[] = variants) {
  const domain = variants.filter((v) => drawn.includes(v));
  return { domain, range: domain.map((v) => VARIANT_COLOURS[variants.indexOf(v) % VARIANT_COLOURS.length]) };
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

/**
 * What a caption may say about a layer: the Vega mark it becomes, its colour and dash, in words.
 * Captions are made from the keys of the layers a chart actually draws (test/report/export/html/
 * captions.test.ts checks each key against the rendered scene).
 */
export interface Key {
  marktype: 'symbol' | 'rule' | 'rect' | 'line';
  colour?: string;
  dashed?: boolean;
  says: string;
}

export const captionOf = (keys: readonly Key[], intro: string, outro = '') => [intro, ...keys.map((k) => k.says), outro].filter(Boolean).join(' ');

/** A chart's layers, each with what its caption says about it; a layer without data is not drawn, nor said. */
export class Layers {
  readonly layers: unknown[] = [];
  readonly keys: Key[] = [];
  add(layer: { data?: { values: readonly unknown[] }; [field: string]: unknown }, key?: Key): this {
    if (layer.data && !layer.data.values.length) return this;
    this.layers.push(layer);
    if (key) this.keys.push(key);
    return this;
  }
  /** The caption: what the chart is, then each drawn layer's sentence, then what applies to all. */
  caption(intro: string, outro = ''): string {
    return captionOf(this.keys, intro, outro);
  }
}

/** Deterministic jitter in [0, 1) so the same data always draws the same picture. */
export const jitter = (seq: number) => (((seq * 0.6180339887) % 1) + 1) % 1;

export const groupKey = (r: { vmSize: string; queuePairs: number | null }) => `${r.vmSize}|${r.queuePairs ?? '-'}`;
export const groupLabel = (r: { vmSize: string; queuePairs: number | null }) =>
  `${r.vmSize} VM${r.queuePairs !== null ? `, ${r.queuePairs} queue pair${r.queuePairs === 1 ? '' : 's'}` : ''}`;
