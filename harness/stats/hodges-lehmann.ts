/**
 * Hodges–Lehmann shift between two samples (pure): the median of all pairwise differences
 * second − first, with the distribution-free confidence interval that inverts the Mann–Whitney test
 * (Hollander & Wolfe; R's wilcox.test(conf.int = TRUE)). Exact U quantiles below EXACT_LIMIT, the
 * normal approximation above.
 */
import { EXACT_LIMIT } from './mann-whitney.ts';
import { normalQuantile } from './normal.ts';
import { exactUDistribution } from './ranks.ts';
import { medianInPlace, selectInPlace } from './select.ts';

export interface HodgesLehmannResult {
  shift: number;
  ci: [number, number];
  /** The confidence the interval actually has: exact intervals are conservative, and tiny samples cannot reach the requested level. */
  achievedConfidence: number;
  method: 'exact' | 'normal approximation';
}

export function pairwiseDifferences(first: readonly number[], second: readonly number[]): number[] {
  const differences: number[] = [];
  for (const y of second) for (const x of first) differences.push(y - x);
  return differences.sort((a, b) => a - b);
}

export function hodgesLehmann(first: readonly number[], second: readonly number[], confidence = 0.95): HodgesLehmannResult {
  const m = first.length;
  const n = second.length;
  if (m === 0 || n === 0) throw new RangeError('Hodges–Lehmann needs two non-empty samples');
  // m·n differences (6 M for 2500 a side): a typed array and order statistics by selection, not a sort.
  const d = new Float64Array(m * n);
  let k = 0;
  for (const y of second) for (const x of first) d[k++] = y - x;
  const shift = medianInPlace(d);
  const alpha = 1 - confidence;

  if (m < EXACT_LIMIT && n < EXACT_LIMIT) {
    const distribution = exactUDistribution(m, n);
    // q: the smallest u with P(U ≤ u) ≥ α/2; the interval is d(q) .. d(mn − q + 1), 1-based.
    let q = 0;
    let below = distribution[0];
    while (below < alpha / 2 - 1e-12) below += distribution[++q];
    q = Math.max(q, 1);
    const tail = distribution.slice(0, q).reduce((a, b) => a + b, 0);
    return { shift, ci: [selectInPlace(d, q - 1), selectInPlace(d, m * n - q)], achievedConfidence: 1 - 2 * tail, method: 'exact' };
  }

  const z = normalQuantile(1 - alpha / 2);
  const c = Math.max(1, Math.round((m * n) / 2 - z * Math.sqrt((m * n * (m + n + 1)) / 12)));
  return { shift, ci: [selectInPlace(d, c - 1), selectInPlace(d, m * n - c)], achievedConfidence: confidence, method: 'normal approximation' };
}
