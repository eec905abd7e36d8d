/**
 * Hodges–Lehmann shift between two samples (pure): the median of all pairwise differences
 * second − first, with the distribution-free confidence interval that inverts the Mann–Whitney test
 * (Hollander & Wolfe; R's wilcox.test(conf.int = TRUE)). Exact U quantiles below EXACT_LIMIT, the
 * normal approximation above.
 */
import { EXACT_LIMIT } from './mann-whitney.ts';
import { normalQuantile } from './normal.ts';
import { exactUDistribution } from './ranks.ts';
import { seededRandom } from './random.ts';

export interface HodgesLehmannResult {
  shift: number;
  ci: [number, number];
  /** The confidence the interval actually has: exact intervals are conservative, and tiny samples cannot reach the requested level. */
  achievedConfidence: number;
  method: 'exact' | 'normal approximation';
}

/**
 * The k-th smallest (0-based) of all differences second[j] − first[i], without forming them: a
 * randomized selection over the sorted difference matrix (Monahan, ACM TOMS algorithm 616). Row j
 * holds second[j] − first[i] ascending as i walks `first` from its largest value down; each round
 * counts the differences below and at a pivot in O(m + n) with two pointers and narrows every row
 * to the candidates still possible. Expected O(log(m·n)) rounds.
 */
export function differenceOrderStatistic(firstAscending: Float64Array, secondAscending: Float64Array, k: number, random: () => number): number {
  const m = firstAscending.length;
  const n = secondAscending.length;
  if (k < 0 || k >= m * n) throw new RangeError(`order statistic ${k} of ${m * n} differences`);
  // Row j, position p (0-based, ascending): second[j] − first[m − 1 − p].
  const value = (j: number, p: number) => secondAscending[j] - firstAscending[m - 1 - p];
  const low = new Int32Array(n); // candidates of row j: positions low[j] .. high[j] − 1
  const high = new Int32Array(n).fill(m);
  const below = new Int32Array(n);
  const upTo = new Int32Array(n);
  for (;;) {
    let candidates = 0;
    for (let j = 0; j < n; j++) candidates += high[j] - low[j];
    let pick = Math.floor(random() * candidates);
    let pivot = NaN;
    for (let j = 0; j < n; j++) {
      const width = high[j] - low[j];
      if (pick < width) {
        pivot = value(j, low[j] + pick);
        break;
      }
      pick -= width;
    }
    // Differences < pivot and ≤ pivot per row, as suffixes of `first`. They are compared as computed
    // (rounded subtraction is monotone), never rearranged to first[i] > second[j] − pivot, which
    // can round the other way. Walking j down only lengthens both suffixes.
    let countBelow = 0;
    let countUpTo = 0;
    let strict = m;
    let loose = m;
    for (let j = n - 1; j >= 0; j--) {
      const yj = secondAscending[j];
      while (strict > 0 && yj - firstAscending[strict - 1] < pivot) strict--;
      while (loose > 0 && yj - firstAscending[loose - 1] <= pivot) loose--;
      below[j] = m - strict;
      upTo[j] = m - loose;
      countBelow += below[j];
      countUpTo += upTo[j];
    }
    if (k >= countBelow && k < countUpTo) return pivot;
    if (k < countBelow) for (let j = 0; j < n; j++) high[j] = Math.min(high[j], below[j]);
    else for (let j = 0; j < n; j++) low[j] = Math.max(low[j], upTo[j]);
  }
}

export function hodgesLehmann(first: readonly number[], second: readonly number[], confidence = 0.95): HodgesLehmannResult {
  const m = first.length;
  const n = second.length;
  if (m === 0 || n === 0) throw new RangeError('Hodges–Lehmann needs two non-empty samples');
  // m·n differences (6 M for 2500 a side) are never formed: order statistics by selection over the sorted samples.
  const x = Float64Array.from(first).sort();
  const y = Float64Array.from(second).sort();
  const random = seededRandom(1);
  const kth = (k: number) => differenceOrderStatistic(x, y, k, random);
  const mn = m * n;
  const shift = mn % 2 === 1 ? kth((mn - 1) / 2) : (kth(mn / 2 - 1) + kth(mn / 2)) / 2;
  const alpha = 1 - confidence;

  if (m < EXACT_LIMIT && n < EXACT_LIMIT) {
    const distribution = exactUDistribution(m, n);
    // q: the smallest u with P(U ≤ u) ≥ α/2; the interval is d(q) .. d(mn − q + 1), 1-based.
    let q = 0;
    let below = distribution[0];
    while (below < alpha / 2 - 1e-12) below += distribution[++q];
    q = Math.max(q, 1);
    const tail = distribution.slice(0, q).reduce((a, b) => a + b, 0);
    return { shift, ci: [kth(q - 1), kth(mn - q)], achievedConfidence: 1 - 2 * tail, method: 'exact' };
  }

  const z = normalQuantile(1 - alpha / 2);
  const c = Math.max(1, Math.round(mn / 2 - z * Math.sqrt((mn * (m + n + 1)) / 12)));
  return { shift, ci: [kth(c - 1), kth(mn - c)], achievedConfidence: confidence, method: 'normal approximation' };
}
