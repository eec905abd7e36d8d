/**
 * The statistics nightly verdicts rest on (pure). A regression is one-sided (downtime went UP),
 * so this is the one-sided Mann–Whitney test built on harness/stats' primitives: exact from the
 * rank-sum permutation distribution (mid-ranks, so ties keep an exact p) below EXACT_LIMIT,
 * the normal approximation with tie and continuity corrections above. Change points: binary
 * segmentation over nights with a minimum segment length.
 */
import { EXACT_LIMIT, mannWhitney as twoSidedMannWhitney } from './mann-whitney.ts';
import { normalCdf } from './normal.ts';
import { midRanks, subsetSumCounts } from './ranks.ts';

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export type Alternative = 'greater' | 'less' | 'two-sided';

export interface MannWhitneyResult {
  /** U of the first sample: pairs (x, y) with x > y, ties counting one half. */
  u: number;
  pValue: number;
  method: string;
}

/**
 * Tests whether `a` tends to be larger ('greater'), smaller ('less') or either than `b`.
 * Throws on an empty sample: no test can be made, and a p-value of 1 would pretend otherwise.
 */
export function mannWhitney(a: readonly number[], b: readonly number[], alternative: Alternative = 'two-sided'): MannWhitneyResult {
  if (alternative === 'two-sided') {
    const r = twoSidedMannWhitney(a, b);
    return { u: r.uFirst, pValue: r.p, method: r.method };
  }
  const m = a.length;
  const n = b.length;
  if (m === 0 || n === 0) throw new RangeError(`Mann–Whitney needs two non-empty samples (got ${m} and ${n})`);
  const { ranks, ties } = midRanks([...a, ...b]);
  const rankSum = ranks.slice(0, m).reduce((s, r) => s + r, 0);
  const u = rankSum - (m * (m + 1)) / 2;
  if (m < EXACT_LIMIT && n < EXACT_LIMIT) {
    // doubled mid-ranks are integers: P(S ≥ s) or P(S ≤ s) straight from the permutation counts
    const counts = subsetSumCounts(ranks.map((r) => Math.round(r * 2)), m);
    const all = counts.reduce((s, c) => s + c, 0);
    const observed = Math.round(rankSum * 2);
    const tail = counts.reduce((s, c, sum) => s + ((alternative === 'greater' ? sum >= observed : sum <= observed) ? c : 0), 0);
    return { u, pValue: Math.min(1, tail / all), method: ties.length ? 'exact (mid-ranks, ties)' : 'exact' };
  }
  const total = m + n;
  const tieTerm = ties.reduce((s, t) => s + t ** 3 - t, 0) / (total * (total - 1));
  const sigma = Math.sqrt(((m * n) / 12) * (total + 1 - tieTerm));
  if (sigma === 0) return { u, pValue: 1, method: 'normal approximation' }; // all values equal: no evidence either way
  const z = alternative === 'greater' ? (u - (m * n) / 2 - 0.5) / sigma : ((m * n) / 2 - u - 0.5) / sigma;
  return { u, pValue: 1 - normalCdf(z), method: 'normal approximation' };
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
