import test from 'ava';
import { bootstrapMeanMedian, bootstrapMeans, bootstrapMedians } from '../../harness/stats/bootstrap.ts';
import { seededRandom } from '../../harness/stats/random.ts';
import { describe, quantileSorted } from '../../harness/stats/describe.ts';
import { modifiedZScores, outlierIndexes } from '../../harness/stats/outliers.ts';

test('describe: hand-computed values of a small sample', (t) => {
  // 3 1 4 1 5 9 2 6: sum 31, squared deviations from 3.875 sum to 52.875, so sd = sqrt(52.875 / 7).
  const d = describe([3, 1, 4, 1, 5, 9, 2, 6]);
  t.is(d.n, 8);
  t.is(d.mean, 3.875);
  t.is(d.median, 3.5);
  t.true(Math.abs(d.sd! - Math.sqrt(52.875 / 7)) < 1e-12);
  t.is(d.min, 1);
  t.is(d.max, 9);
  // p95 at position 7 × 0.95 = 6.65 of the sorted sample: 6 + 0.65 × (9 − 6).
  t.true(Math.abs(d.p95 - 7.95) < 1e-12);
});

test('describe: one value has no standard deviation', (t) => {
  const d = describe([42]);
  t.is(d.sd, null);
  t.is(d.median, 42);
  t.is(d.p95, 42);
});

test('quantiles interpolate linearly between order statistics', (t) => {
  t.is(quantileSorted([10, 20, 30, 40], 0.5), 25);
  t.is(quantileSorted([10, 20, 30, 40], 0), 10);
  t.is(quantileSorted([10, 20, 30, 40], 1), 40);
});

test('bootstrap: same seed, same intervals; the intervals hold the estimate; constant data gives a point', (t) => {
  const values = [4630, 4650, 4670, 4690, 4710, 4730, 4750, 4770, 4790, 4810];
  const a = bootstrapMeanMedian(values)!;
  const b = bootstrapMeanMedian(values)!;
  t.deepEqual(a, b);
  t.true(a.mean[0] < 4720 && 4720 < a.mean[1]);
  t.true(a.median[0] <= 4720 && 4720 <= a.median[1]);
  // The bootstrap distribution of a mean of 10 values lies inside the sample's range and well inside it for 95%.
  t.true(a.mean[0] > 4630 && a.mean[1] < 4810);
  // Another seed draws other resamples (visible on data off a grid).
  const irregular = [1.3, 2.9, 3.1, 4.7, 5.2, 8.8, 9.1];
  t.notDeepEqual(bootstrapMeanMedian(irregular, { resamples: 10_000, confidence: 0.95, seed: 2 }), bootstrapMeanMedian(irregular));
  t.deepEqual(bootstrapMeanMedian([7, 7, 7]), { mean: [7, 7], median: [7, 7] });
  t.is(bootstrapMeanMedian([7]), null);
});

test('outliers: modified z-score over MAD flags the far value and nothing else', (t) => {
  // median 12, absolute deviations 2 1 0 1 88 → MAD 1; z(100) = 0.6745 × 88 = 59.4.
  const values = [10, 11, 12, 13, 100];
  t.deepEqual(outlierIndexes(values), [4]);
  t.true(Math.abs(modifiedZScores(values)[4] - 0.6745 * 88) < 1e-9);
  // z(15) = 0.6745 × 3 / 1 = 2.02: inside 3.5.
  t.deepEqual(outlierIndexes([10, 11, 12, 13, 15]), []);
  t.deepEqual(outlierIndexes([1, 1000]), [], 'two values cannot have an outlier');
  t.deepEqual(outlierIndexes([5, 5, 5, 5, 6]), [4], 'MAD 0: anything off the median is out');
});

test('bootstrap: medians drawn through order statistics have the distribution naive resampling gives', (t) => {
  // Naive: draw n values with replacement, take the median. The two must agree in distribution
  // (checked on quantiles, within Monte-Carlo error) for odd and even n and for tied data.
  const random = seededRandom(3);
  for (const values of [
    Array.from({ length: 11 }, () => Math.round(random() * 1000)),
    Array.from({ length: 40 }, () => 50 + random() ** 3 * 400),
    [5, 5, 5, 6, 6, 9, 12, 12, 30, 31, 80, 80],
  ]) {
    const n = values.length;
    const resamples = 40_000;
    const naive = new Float64Array(resamples);
    const draw = new Float64Array(n);
    for (let r = 0; r < resamples; r++) {
      for (let i = 0; i < n; i++) draw[i] = values[Math.floor(random() * n)];
      draw.sort();
      naive[r] = (draw[(n - 1) >> 1] + draw[n >> 1]) / 2;
    }
    const fast = bootstrapMedians(Float64Array.from(values).sort(), resamples, seededRandom(11));
    naive.sort();
    fast.sort();
    const spread = naive[Math.floor(0.99 * resamples)] - naive[Math.floor(0.01 * resamples)];
    for (const p of [0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975]) {
      const a = naive[Math.floor(p * resamples)];
      const b = fast[Math.floor(p * resamples)];
      t.true(Math.abs(a - b) <= 0.06 * spread + 1e-9, `n ${n} p ${p}: naive ${a} vs order-statistic ${b}`);
    }
    // Every resample median is a value of the sample or the mean of two of them.
    const allowed = new Set(values.flatMap((a) => values.map((b) => (a + b) / 2)));
    t.true(fast.every((m) => allowed.has(m)));
  }
});

test('bootstrap: the inlined generator of the means draws the same resamples as seededRandom', (t) => {
  const values = Float64Array.from([3.5, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]);
  const random = seededRandom(42);
  const expected = Array.from({ length: 50 }, () => {
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[Math.floor(random() * values.length)];
    return sum / values.length;
  });
  t.deepEqual([...bootstrapMeans(values, 50, 42)], expected);
});
