/**
 * Percentile bootstrap confidence intervals with a fixed seed, so the same data always gives the
 * same report. The mean and the median share one set of resamples.
 */
import { seededRandom } from '../migration/schedule.ts';
import { medianInPlace } from './select.ts';

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
  for (let r = 0; r < settings.resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += resample[i] = values[Math.floor(random() * n)];
    means[r] = sum / n;
    medians[r] = medianInPlace(resample);
  }
  return { mean: percentileInterval(means, settings.confidence), median: percentileInterval(medians, settings.confidence) };
}

