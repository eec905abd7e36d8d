/**
 * Mann–Whitney U test (pure), two-sided or one-sided: the one rank test of the harness, used by
 * report comparisons (two-sided) and nightly verdicts (one-sided: did downtime go up?). Exact when
 * both samples are below EXACT_LIMIT: the permutation distribution of the rank sum, with mid-ranks
 * when there are ties (so tied, millisecond-resolution data keeps an exact p). Larger samples:
 * normal approximation with tie and continuity corrections.
 */
import { normalCdf } from './normal.ts';
import { midRanks, subsetSumCounts } from './ranks.ts';

export const EXACT_LIMIT = 50;

/** 'greater': the first sample tends to be larger than the second; 'less': smaller; 'two-sided': either. */
export type Alternative = 'two-sided' | 'greater' | 'less';

export interface MannWhitneyResult {
  /** U of the first sample: pairs (x, y) with x > y, ties counting one half. */
  uFirst: number;
  /** min(U1, U2), the U of textbook tables. */
  u: number;
  p: number;
  method: 'exact' | 'exact (mid-ranks, ties)' | 'normal approximation';
  /** The smallest p these sample sizes can give (exact method), so "not significant" can be read. */
  minimumP: number | null;
}

/** Throws on an empty sample: no test can be made, and a p of 1 would pretend otherwise. */
export function mannWhitney(first: readonly number[], second: readonly number[], alternative: Alternative = 'two-sided'): MannWhitneyResult {
  const m = first.length;
  const n = second.length;
  if (m === 0 || n === 0) throw new RangeError(`Mann–Whitney needs two non-empty samples (got ${m} and ${n})`);
  const { ranks, ties } = midRanks([...first, ...second]);
  const rankSum = ranks.slice(0, m).reduce((a, b) => a + b, 0);
  const uFirst = rankSum - (m * (m + 1)) / 2;
  const u = Math.min(uFirst, m * n - uFirst);
  if (m < EXACT_LIMIT && n < EXACT_LIMIT) {
    const { p, minimumP } = exactP(ranks, { m, n }, rankSum, alternative);
    return { uFirst, u, p, method: ties.length ? 'exact (mid-ranks, ties)' : 'exact', minimumP };
  }
  return { uFirst, u, p: approximateP(uFirst, { m, n }, ties, alternative), method: 'normal approximation', minimumP: null };
}

/** Sizes of the first (m) and second (n) sample. */
interface SampleSizes {
  m: number;
  n: number;
}

/** p from the rank sum's permutation distribution; doubled mid-ranks are integers, so it is a subset-sum count. */
function exactP(ranks: readonly number[], { m, n }: SampleSizes, rankSum: number, alternative: Alternative): { p: number; minimumP: number } {
  const counts = subsetSumCounts(
    ranks.map((r) => Math.round(r * 2)),
    m,
  );
  const all = counts.reduce((a, b) => a + b, 0);
  const observed = Math.round(rankSum * 2);
  if (alternative !== 'two-sided') {
    const inTail = (sum: number) => (alternative === 'greater' ? sum >= observed : sum <= observed);
    const tail = counts.reduce((s, c, sum) => s + (inTail(sum) ? c : 0), 0);
    const possible = counts.flatMap((c, sum) => (c > 0 ? [sum] : []));
    const extremeSum = alternative === 'greater' ? possible[possible.length - 1] : possible[0];
    return { p: Math.min(1, tail / all), minimumP: counts[extremeSum] / all };
  }
  const expected = m * (m + n + 1);
  const distanceObserved = Math.abs(observed - expected);
  let extreme = 0;
  let mostExtreme = 0;
  let farthest = 0;
  counts.forEach((c, s) => {
    if (c === 0) return;
    const distance = Math.abs(s - expected);
    if (distance >= distanceObserved) extreme += c;
    if (distance > farthest) {
      farthest = distance;
      mostExtreme = 0;
    }
    if (distance === farthest) mostExtreme += c;
  });
  return { p: Math.min(1, extreme / all), minimumP: mostExtreme / all };
}

function approximateP(uFirst: number, { m, n }: SampleSizes, ties: readonly number[], alternative: Alternative): number {
  const total = m + n;
  const tieTerm = ties.reduce((a, t) => a + t ** 3 - t, 0) / (total * (total - 1));
  const sigma = Math.sqrt(((m * n) / 12) * (total + 1 - tieTerm));
  // all values equal: no evidence either way
  if (sigma === 0) return 1;
  const centre = (m * n) / 2;
  if (alternative === 'greater') return 1 - normalCdf((uFirst - centre - 0.5) / sigma);
  if (alternative === 'less') return 1 - normalCdf((centre - uFirst - 0.5) / sigma);
  const z = Math.max(0, Math.abs(uFirst - centre) - 0.5) / sigma;
  return Math.min(1, 2 * (1 - normalCdf(z)));
}
