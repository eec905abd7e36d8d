/**
 * Percentile bootstrap confidence intervals with a fixed seed, so the same data always gives the
 * same report. The mean and the median share one set of resamples.
 */
import { seededRandom } from '../migration/schedule.ts';

export interface BootstrapSettings {
  resamples: number;
  confidence: number;
  seed: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapSettings = { resamples: 10_000, confidence: 0.95, seed: 1 };

export type Interval = [number, number];

export function percentileInterval(estimates: number[], confidence: number): Interval {
  estimates.sort((a, b) => a - b);
  const tail = (1 - confidence) / 2;
  const at = (p: number) => {
    const h = (estimates.length - 1) * p;
    const lo = Math.floor(h);
    return estimates[lo] + (h - lo) * (estimates[Math.ceil(h)] - estimates[lo]);
  };
  return [at(tail), at(1 - tail)];
}

/** CIs of the mean and the median; null below two values (a resample of one value says nothing). */
export function bootstrapMeanMedian(values: readonly number[], settings: BootstrapSettings = DEFAULT_BOOTSTRAP): { mean: Interval; median: Interval } | null {
  const n = values.length;
  if (n < 2) return null;
  const random = seededRandom(settings.seed);
  const means: number[] = new Array(settings.resamples);
  const medians: number[] = new Array(settings.resamples);
  const resample = new Float64Array(n);
  const lower = Math.floor((n - 1) / 2);
  const upper = Math.ceil((n - 1) / 2);
  for (let r = 0; r < settings.resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += resample[i] = values[Math.floor(random() * n)];
    means[r] = sum / n;
    const low = selectInPlace(resample, lower);
    // After selection everything right of `lower` is ≥ it: the upper middle is their minimum.
    let high = low;
    if (upper !== lower) {
      high = Infinity;
      for (let i = upper; i < n; i++) if (resample[i] < high) high = resample[i];
    }
    medians[r] = (low + high) / 2;
  }
  return { mean: percentileInterval(means, settings.confidence), median: percentileInterval(medians, settings.confidence) };
}

/** Hoare's quickselect: the k-th smallest (0-based) in O(n) on average; reorders the array around it. */
export function selectInPlace(a: Float64Array, k: number): number {
  let left = 0;
  let right = a.length - 1;
  while (right > left) {
    const mid = (left + right) >> 1;
    // Median of three as the pivot keeps sorted and constant input linear.
    const x = a[left], y = a[mid], z = a[right];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return a[k];
  }
  return a[k];
}
