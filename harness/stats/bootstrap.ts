/**
 * Percentile bootstrap confidence intervals with a fixed seed, so the same data always gives the
 * same report.
 *
 * The median's resamples are drawn without materialising them: the median of n draws (with
 * replacement) from the sorted sample is sorted[⌊n·U₍ₖ₎⌋], where U₍ₖ₎ is the k-th order statistic
 * of n uniforms, which is Beta(k, n − k + 1). So each resample costs two random variates instead
 * of n draws and a selection, and the bootstrap distribution is exactly the one naive resampling
 * has (a test checks the two agree). That is what makes a 10,000-migration report take seconds.
 * The mean still resamples values one by one (there is no such shortcut for a sum), from its own
 * stream seeded with seed + 1.
 */
import { quantileSorted } from './describe.ts';
import { seededRandom } from './random.ts';

export interface BootstrapSettings {
  resamples: number;
  confidence: number;
  seed: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapSettings = { resamples: 10_000, confidence: 0.95, seed: 1 };

export type Interval = [number, number];

export function percentileInterval(estimates: Float64Array | number[], confidence: number): Interval {
  if (estimates instanceof Float64Array) estimates.sort();
  else estimates.sort((a, b) => a - b);
  const tail = (1 - confidence) / 2;
  return [quantileSorted(estimates, tail), quantileSorted(estimates, 1 - tail)];
}

/** Standard normal variates from uniforms (Box–Muller; the second value of each pair is kept). */
function normalSource(random: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = 1 - random(); // (0, 1]: log(0) is not a number
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * random();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

/** Gamma(shape ≥ 1, scale 1) by Marsaglia & Tsang's squeeze method (2000). */
function gammaVariate(shape: number, random: () => number, normal: () => number): number {
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - random();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(a, b) for a, b ≥ 1. */
function betaVariate(a: number, b: number, random: () => number, normal: () => number): number {
  const x = gammaVariate(a, random, normal);
  return x / (x + gammaVariate(b, random, normal));
}

/** Medians of `resamples` bootstrap resamples of an ascending sample, drawn through the order statistics. */
export function bootstrapMedians(ascending: ArrayLike<number>, resamples: number, random: () => number): Float64Array {
  const n = ascending.length;
  const normal = normalSource(random);
  const at = (u: number) => ascending[Math.min(n - 1, Math.floor(n * u))];
  const medians = new Float64Array(resamples);
  // k-th of n (1-based): the middle for odd n, the lower middle for even n.
  const k = Math.ceil(n / 2);
  for (let r = 0; r < resamples; r++) {
    const lower = betaVariate(k, n - k + 1, random, normal);
    if (n % 2 === 1) {
      medians[r] = at(lower);
      continue;
    }
    // The next order statistic: the smallest of the n − k uniforms above the k-th, which are uniform on (lower, 1).
    const upper = lower + (1 - lower) * (1 - Math.pow(1 - random(), 1 / (n - k)));
    medians[r] = (at(lower) + at(upper)) / 2;
  }
  return medians;
}

/**
 * Means of `resamples` bootstrap resamples. The n draws per resample are the whole cost of a large
 * report, so the generator (seededRandom's mulberry32, same sequence) is inlined here.
 */
export function bootstrapMeans(values: ArrayLike<number>, resamples: number, seed: number): Float64Array {
  const n = values.length;
  const means = new Float64Array(resamples);
  let state = seed >>> 0;
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      sum += values[Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n)];
    }
    means[r] = sum / n;
  }
  return means;
}

/** CIs of the mean and the median; null below two values (a resample of one value says nothing). */
export function bootstrapMeanMedian(values: readonly number[], settings: BootstrapSettings = DEFAULT_BOOTSTRAP): { mean: Interval; median: Interval } | null {
  const n = values.length;
  if (n < 2) return null;
  const random = seededRandom(settings.seed);
  const ascending = Float64Array.from(values).sort();
  const medians = bootstrapMedians(ascending, settings.resamples, random);
  const means = bootstrapMeans(ascending, settings.resamples, settings.seed + 1);
  return { mean: percentileInterval(means, settings.confidence), median: percentileInterval(medians, settings.confidence) };
}
