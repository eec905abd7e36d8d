/** Ranks and the permutation distribution of a rank sum (pure). */

export interface Ranking {
  /** Mid-ranks (1-based) of the values, in input order; tied values share the mean of their ranks. */
  ranks: number[];
  /** Sizes of the groups of tied values (groups of one left out). */
  ties: number[];
}

export function midRanks(values: readonly number[]): Ranking {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  const ties: number[] = [];
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && order[end + 1][0] === order[start][0]) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k][1]] = rank;
    if (end > start) ties.push(end - start + 1);
    start = end + 1;
  }
  return { ranks, ties };
}

/**
 * How many ways each sum arises when `take` of the given integer scores are drawn without
 * replacement: counts[s] for s = 0..sum(scores). Subset-sum dynamic programming, O(n · take · sum).
 * Counts are doubles: exact up to 2^53, relative error ~1e-16 beyond (C(98, 49) ≈ 2.5e28).
 */
export function subsetSumCounts(scores: readonly number[], take: number): number[] {
  const total = scores.reduce((a, b) => a + b, 0);
  // byCount[k][s]: subsets of size k with sum s, over the scores seen so far.
  const byCount: Float64Array[] = Array.from({ length: take + 1 }, () => new Float64Array(total + 1));
  byCount[0][0] = 1;
  let seen = 0;
  for (const score of scores) {
    seen += score;
    for (let k = Math.min(take, scores.length); k >= 1; k--) {
      const into = byCount[k];
      const from = byCount[k - 1];
      for (let s = seen; s >= score; s--) if (from[s - score] !== 0) into[s] += from[s - score];
    }
  }
  return Array.from(byCount[take]);
}

const uDistributions = new Map<string, number[]>();

/** P(U = u), u = 0..m·n, for the Mann–Whitney U of a sample of m against n without ties (memoized). */
export function exactUDistribution(m: number, n: number): number[] {
  const key = `${m},${n}`;
  const known = uDistributions.get(key);
  if (known) return known;
  const counts = subsetSumCounts(
    Array.from({ length: m + n }, (_, i) => i + 1),
    m,
  );
  const offset = (m * (m + 1)) / 2;
  const all = counts.reduce((a, b) => a + b, 0);
  const distribution = Array.from({ length: m * n + 1 }, (_, u) => counts[u + offset] / all);
  uDistributions.set(key, distribution);
  return distribution;
}
