import test from 'ava';
import { compareSamples } from '../../harness/stats/compare.ts';
import { differenceOrderStatistic, hodgesLehmann } from '../../harness/stats/hodges-lehmann.ts';
import { seededRandom } from '../../harness/stats/random.ts';
import { mannWhitney } from '../../harness/stats/mann-whitney.ts';
import { exactUDistribution, midRanks } from '../../harness/stats/ranks.ts';

// Hollander & Wolfe (1973), p. 69, the two-sample example of R's ?wilcox.test: permeability
// constants of the human chorioamnion at term (x) and at 12–26 weeks (y).
// R: wilcox.test(x, y, alternative = "greater") gives W = 35, p-value = 0.1272;
// wilcox.test(x, y, conf.int = TRUE): p = 0.2544, 95% CI -0.15 .. 0.76, difference in location 0.305.
const x = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
const y = [1.15, 0.88, 0.9, 0.74, 1.21];
const close = (a: number, b: number, eps = 1e-9) => Math.abs(a - b) < eps;

/** Every difference second − first, sorted: the brute-force oracle the selection is checked against. */
function pairwiseDifferences(first: readonly number[], second: readonly number[]): number[] {
  const differences: number[] = [];
  for (const y of second) for (const x of first) differences.push(y - x);
  return differences.sort((a, b) => a - b);
}

test('Mann–Whitney: textbook example (Hollander & Wolfe), exact', (t) => {
  const result = mannWhitney(x, y);
  t.is(result.uFirst, 35);
  t.is(result.u, 15);
  t.is(result.method, 'exact');
  t.true(close(result.p, 2 * 0.1272061272, 1e-9), String(result.p));
});

test('Mann–Whitney: complete separation of 3 and 3 — U = 0, p = 2/20, and no smaller p is possible', (t) => {
  const result = mannWhitney([1, 2, 3], [4, 5, 6]);
  t.is(result.u, 0);
  t.true(close(result.p, 0.1));
  t.true(close(result.minimumP!, 0.1));
  t.true(close(mannWhitney([1, 2, 3], [1.5, 2.5, 3.5]).p, 0.7), 'U = 3 of 9: P(U ≤ 3) = 7/20, two-sided 0.7');
});

test('Mann–Whitney with ties: exact mid-rank permutation p equals a brute-force enumeration', (t) => {
  const a = [1, 2, 2, 3, 5];
  const b = [2, 4, 4, 6, 7, 8];
  const all = [...a, ...b];
  const { ranks } = midRanks(all);
  const observed = a.reduce((s, _, i) => s + ranks[i], 0);
  const expected = (a.length * (all.length + 1)) / 2;
  let extreme = 0;
  let total = 0;
  const choose = (start: number, left: number, sum: number) => {
    if (left === 0) {
      total++;
      if (Math.abs(sum - expected) >= Math.abs(observed - expected) - 1e-9) extreme++;
      return;
    }
    for (let i = start; i <= all.length - left; i++) choose(i + 1, left - 1, sum + ranks[i]);
  };
  choose(0, a.length, 0);
  t.is(total, 462);
  const result = mannWhitney(a, b);
  t.is(result.method, 'exact (mid-ranks, ties)');
  t.true(close(result.p, extreme / total), `${result.p} vs ${extreme}/${total}`);
});

test('Mann–Whitney: large samples use the normal approximation with continuity correction', (t) => {
  const a = Array.from({ length: 60 }, (_, i) => (i * 37) % 61);
  const b = Array.from({ length: 55 }, (_, i) => ((i * 29) % 53) + 10);
  const result = mannWhitney(a, b);
  t.is(result.method, 'normal approximation');
  t.is(result.uFirst, 1357);
  // z = (|1357 − 1650| − 0.5) / σ with σ² = 60·55/12 · (116 − Σ(t³ − t)/(115·114)); scipy.stats.mannwhitneyu(method='asymptotic') gives 0.1014495369.
  t.true(close(result.p, 0.1014495369, 1e-6), String(result.p));
});

test('exact U distribution: the Mann–Whitney critical value for n = 5 and 10 at α = 0.05 two-sided is 8', (t) => {
  const p = exactUDistribution(5, 10);
  const cdf = (u: number) => p.slice(0, u + 1).reduce((a, b) => a + b, 0);
  t.true(
    close(
      p.reduce((a, b) => a + b, 0),
      1,
    ),
  );
  t.true(cdf(8) <= 0.025);
  t.true(cdf(9) > 0.025);
  t.true(close(p[0], 1 / 3003), 'C(15, 5) = 3003 arrangements, one with U = 0');
});

test('Hodges–Lehmann: hand-computed shift of 3 and 3, and the 90% interval that is all such samples allow', (t) => {
  // Differences y − x: 3 2 1 / 4 3 2 / 5 4 3 → sorted 1 2 2 3 3 3 4 4 5, median 3.
  t.deepEqual(pairwiseDifferences([1, 2, 3], [4, 5, 6]), [1, 2, 2, 3, 3, 3, 4, 4, 5]);
  const result = hodgesLehmann([1, 2, 3], [4, 5, 6]);
  t.is(result.shift, 3);
  t.deepEqual(result.ci, [1, 5]);
  t.true(close(result.achievedConfidence, 0.9));
});

test('Hodges–Lehmann: textbook example (Hollander & Wolfe) — estimate 0.305, 95% interval -0.15 .. 0.76', (t) => {
  const result = hodgesLehmann(y, x); // x − y, as R's wilcox.test(x, y) reports it
  t.true(close(result.shift, 0.305));
  t.true(close(result.ci[0], -0.15) && close(result.ci[1], 0.76), String(result.ci));
  t.is(result.method, 'exact');
  t.true(result.achievedConfidence >= 0.95);
});

test('verdicts need significance and a change above the noise threshold', (t) => {
  const base = [100, 101, 102, 103, 104, 105, 106, 107, 108, 109];
  const settings = { alpha: 0.05, noiseThresholdPct: 5 };
  const faster = compareSamples(
    base,
    base.map((v) => v * 0.5),
    settings,
  );
  t.is(faster.verdict, 'improvement');
  t.true(close(faster.pctChangeMean!, -50));
  t.true(close(faster.diffMeans, -52.25));
  const slower = compareSamples(
    base,
    base.map((v) => v + 20),
    settings,
  );
  t.is(slower.verdict, 'regression');
  // Significant (complete separation) but only ~1% slower: noise by the profile's threshold.
  const slow = base.map((v) => v + 900); // 1000 .. 1009
  const slightly = compareSamples(
    slow,
    slow.map((v) => v + 20),
    settings,
  );
  t.true(slightly.mannWhitney.p < 0.05);
  t.is(slightly.verdict, 'no significant change');
  t.regex(slightly.verdictReason, /noise threshold 5%/);
  // Large but with three migrations a side: p cannot go below 0.1.
  const few = compareSamples([100, 101, 102], [50, 51, 52], settings);
  t.is(few.verdict, 'no significant change');
  t.regex(few.verdictReason, /smallest possible p is 0\.100/);
});

test('Hodges–Lehmann: selection over the difference matrix gives exactly the order statistics of all differences', (t) => {
  const random = seededRandom(7);
  for (const [m, n, grid] of [
    [1, 1, 0],
    [2, 5, 0],
    [13, 8, 0.5],
    [40, 40, 1],
    [60, 25, 0],
    [70, 90, 0.25],
  ] as const) {
    // Values on a grid give many ties; off the grid, differences that round.
    const draw = () => (grid ? Math.round((random() * 50) / grid) * grid : random() * 1e3 + 0.1);
    const first = Array.from({ length: m }, draw);
    const second = Array.from({ length: n }, draw);
    const all = pairwiseDifferences(first, second);
    const x = Float64Array.from(first).sort();
    const y = Float64Array.from(second).sort();
    for (const k of new Set([0, 1, Math.floor(all.length / 2), all.length - 2, all.length - 1].filter((k) => k >= 0 && k < all.length))) {
      t.is(differenceOrderStatistic(x, y, k, random), all[k], `m ${m} n ${n} k ${k}`);
    }
    const mid = all.length % 2 ? all[(all.length - 1) / 2] : (all[all.length / 2 - 1] + all[all.length / 2]) / 2;
    t.is(hodgesLehmann(first, second).shift, mid);
  }
  t.throws(() => differenceOrderStatistic(new Float64Array([1]), new Float64Array([2]), 1, random), { instanceOf: RangeError });
});
