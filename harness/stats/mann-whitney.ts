/**
 * Mann–Whitney U test, two-sided (pure). Exact when both samples are below EXACT_LIMIT: the
 * permutation distribution of the rank sum, with mid-ranks when there are ties (so tied,
 * millisecond-resolution data keeps an exact p). Larger samples: normal approximation with tie and
 * continuity corrections.
 */
import { normalCdf } from './normal.ts';
import { midRanks, subsetSumCounts } from './ranks.ts';

export const EXACT_LIMIT = 50;

export interface MannWhitneyResult {
  /** U of the first sample: pairs (x, y) with x > y, ties counting one half. */
  uFirst: number;
  /** min(U1, U2), the U of textbook tables. */
  u: number;
  p: number;
  method: 'exact' | 'exact (mid-ranks, ties)' | 'normal approximation';
  /** The smallest two-sided p these sample sizes can give (exact method), so "not significant" can be read. */
  minimumP: number | null;
}

export function mannWhitney(first: readonly number[], second: readonly number[]): MannWhitneyResult {
  const m = first.length;
  const n = second.length;
  if (m === 0 || n === 0) throw new RangeError('Mann–Whitney needs two non-empty samples');
  const { ranks, ties } = midRanks([...first, ...second]);
  const rankSum = ranks.slice(0, m).reduce((a, b) => a + b, 0);
  const uFirst = rankSum - (m * (m + 1)) / 2;
  const u = Math.min(uFirst, m * n - uFirst);

  if (m < EXACT_LIMIT && n < EXACT_LIMIT) {
    // Doubled mid-ranks are integers; the rank sum's permutation distribution is then a subset-sum count.
    const doubled = ranks.map((r) => Math.round(r * 2));
    const counts = subsetSumCounts(doubled, m);
    const all = counts.reduce((a, b) => a + b, 0);
    const expected = m * (m + n + 1);
    const observed = Math.abs(Math.round(rankSum * 2) - expected);
    let extreme = 0;
    let mostExtreme = 0;
    let farthest = 0;
    counts.forEach((c, s) => {
      if (c === 0) return;
      const distance = Math.abs(s - expected);
      if (distance >= observed) extreme += c;
      if (distance > farthest) {
        farthest = distance;
        mostExtreme = 0;
      }
      if (distance === farthest) mostExtreme += c;
    });
    return { uFirst, u, p: Math.min(1, extreme / all), method: ties.length ? 'exact (mid-ranks, ties)' : 'exact', minimumP: mostExtreme / all };
  }

  const total = m + n;
  const tieTerm = ties.reduce((a, t) => a + t ** 3 - t, 0) / (total * (total - 1));
  const sigma = Math.sqrt(((m * n) / 12) * (total + 1 - tieTerm));
  if (sigma === 0) return { uFirst, u, p: 1, method: 'normal approximation', minimumP: null };
  const z = Math.max(0, Math.abs(uFirst - (m * n) / 2) - 0.5) / sigma;
  return { uFirst, u, p: Math.min(1, 2 * (1 - normalCdf(z))), method: 'normal approximation', minimumP: null };
}
