/**
 * Change points in a series of nights (pure): binary segmentation with a minimum segment length,
 * each split tested with the two-sided Mann–Whitney test of harness/stats.
 */
import { median } from './describe.ts';
import { mannWhitney } from './mann-whitney.ts';

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
      if (!best || test.p < best.pValue) best = { index: k, beforeMedian, afterMedian, changePct, pValue: test.p };
    }
    if (!best || best.pValue >= options.alpha || Math.abs(best.changePct) <= options.noisePct) return;
    found.push(best);
    search(start, best.index);
    search(best.index, end);
  };
  search(0, nights.length);
  return found.sort((x, y) => x.index - y.index);
}
