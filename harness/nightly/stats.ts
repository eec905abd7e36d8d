/**
 * The statistics nightly verdicts rest on (pure): Mann–Whitney U (exact for small samples
 * without ties, normal approximation with tie and continuity correction otherwise) and
 * change-point detection by binary segmentation over nights with a minimum segment length.
 */

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export type Alternative = 'greater' | 'less' | 'two-sided';

export interface MannWhitneyResult {
  /** U of the first sample: how often one of its values beats one of the second's (ties count ½). */
  u: number;
  pValue: number;
  method: 'exact' | 'normal';
}

/** Average ranks (1-based) of the pooled values, and the tie groups' sizes. */
function rank(values: readonly number[]): { ranks: number[]; ties: number[] } {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  const ties: number[] = [];
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k][1]] = r;
    if (j > i) ties.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, ties };
}

/**
 * Tests whether `a` tends to be larger ('greater'), smaller ('less') or either than `b`.
 * Throws on an empty sample: no test can be made, and a p-value of 1 would pretend otherwise.
 */
export function mannWhitney(a: readonly number[], b: readonly number[], alternative: Alternative = 'two-sided'): MannWhitneyResult {
  const m = a.length;
  const n = b.length;
  if (m === 0 || n === 0) throw new Error(`Mann–Whitney needs two non-empty samples (got ${m} and ${n})`);
  const { ranks, ties } = rank([...a, ...b]);
  const rankSumA = ranks.slice(0, m).reduce((s, r) => s + r, 0);
  const u = rankSumA - (m * (m + 1)) / 2;
  if (ties.length === 0 && m + n <= 40) {
    const dist = exactUDistribution(m, n);
    const total = dist.reduce((s, c) => s + c, 0);
    const upper = dist.slice(Math.ceil(u)).reduce((s, c) => s + c, 0) / total; // P(U ≥ u)
    const lower = dist.slice(0, Math.floor(u) + 1).reduce((s, c) => s + c, 0) / total; // P(U ≤ u)
    const p = alternative === 'greater' ? upper : alternative === 'less' ? lower : Math.min(1, 2 * Math.min(upper, lower));
    return { u, pValue: p, method: 'exact' };
  }
  const N = m + n;
  const tieTerm = ties.reduce((s, t) => s + (t * t * t - t), 0);
  const variance = ((m * n) / 12) * (N + 1 - tieTerm / (N * (N - 1)));
  const mean = (m * n) / 2;
  if (variance <= 0) return { u, pValue: 1, method: 'normal' }; // every value equal: no evidence either way
  const sd = Math.sqrt(variance);
  const zGreater = (u - mean - 0.5) / sd;
  const zLess = (u - mean + 0.5) / sd;
  const pGreater = 1 - normalCdf(zGreater);
  const pLess = normalCdf(zLess);
  const p = alternative === 'greater' ? pGreater : alternative === 'less' ? pLess : Math.min(1, 2 * Math.min(pGreater, pLess));
  return { u, pValue: p, method: 'normal' };
}

/** Counts of each U value (0..m·n) over all orderings of m and n distinct values. */
function exactUDistribution(m: number, n: number): number[] {
  // f[i][j] = distribution for samples of size i and j; built up with f(i,j,u) = f(i-1,j,u-j) + f(i,j-1,u)
  let prev: number[][] = []; // prev[j] = distribution for (i-1, j)
  for (let i = 0; i <= m; i++) {
    const row: number[][] = [];
    for (let j = 0; j <= n; j++) {
      if (i === 0 || j === 0) {
        row.push([1]);
        continue;
      }
      const size = i * j + 1;
      const d = new Array<number>(size).fill(0);
      const withoutA = prev[j]; // a's largest value removed: it beat all j of b
      for (let k = 0; k < withoutA.length; k++) d[k + j] += withoutA[k];
      const withoutB = row[j - 1]; // b's largest removed: it beat every a
      for (let k = 0; k < withoutB.length; k++) d[k] += withoutB[k];
      row.push(d);
    }
    prev = row;
  }
  return prev[n];
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 erf, |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

export interface ChangePoint {
  /** Index of the first night of the new segment. */
  index: number;
  beforeMedian: number;
  afterMedian: number;
  changePct: number;
  pValue: number;
}

export interface ChangePointOptions {
  /** Fewest nights on each side of a change: one noisy night can never be a segment of its own. */
  minSegment: number;
  alpha: number;
  /** A shift smaller than this (percent of the earlier median) is noise, however significant. */
  noisePct: number;
}

/**
 * Binary segmentation over nights: within a segment, the split (on a night boundary, leaving
 * at least minSegment nights each side) with the strongest Mann–Whitney evidence is kept when it
 * is significant and larger than the noise threshold; both halves are searched again.
 */
export function detectChangePoints(nights: readonly (readonly number[])[], options: ChangePointOptions): ChangePoint[] {
  const found: ChangePoint[] = [];
  const search = (start: number, end: number) => {
    let best: ChangePoint | undefined;
    for (let k = start + options.minSegment; k <= end - options.minSegment; k++) {
      const before = nights.slice(start, k).flat();
      const after = nights.slice(k, end).flat();
      if (before.length === 0 || after.length === 0) continue;
      const test = mannWhitney(after, before, 'two-sided');
      const beforeMedian = median(before);
      const afterMedian = median(after);
      const changePct = ((afterMedian - beforeMedian) / beforeMedian) * 100;
      if (!best || test.pValue < best.pValue) best = { index: k, beforeMedian, afterMedian, changePct, pValue: test.pValue };
    }
    if (!best || best.pValue >= options.alpha || Math.abs(best.changePct) <= options.noisePct) return;
    found.push(best);
    search(start, best.index);
    search(best.index, end);
  };
  search(0, nights.length);
  return found.sort((x, y) => x.index - y.index);
}
