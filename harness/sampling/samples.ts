/**
 * How many migrations a comparison needs (pure): from a pilot run's spread, the per-variant count
 * that detects a given relative change of the median downtime with a given power.
 *
 * Normal approximation for two independent groups, n = 2 (z_{1−α/2} + z_{power})² σ² / δ², with
 * σ estimated robustly (1.4826 × MAD, so one outlier in a small pilot does not inflate it) and
 * δ = change × the pilot's median. The harness compares variants with rank tests
 * (Mann–Whitney), whose efficiency relative to the t-test is 3/π under normality: n is divided
 * by it.
 */
import { mad, median } from '../stats/describe.ts';
import { normalQuantile } from '../stats/normal.ts';

export interface SampleSizeInput {
  /** The pilot's usable downtimes of the reference variant (ms). */
  values: readonly number[];
  /** Relative change to detect, e.g. 0.1 for 10%. */
  change: number;
  power: number;
  /** Two-sided significance level. */
  alpha?: number;
}

export interface SampleSizeEstimate {
  perVariant: number;
  /** The t-test count before the rank-test efficiency correction. */
  perVariantTTest: number;
  median: number;
  sigma: number;
  delta: number;
  pilotN: number;
}

const RANK_TEST_EFFICIENCY = 3 / Math.PI;

/** The standard deviation a normal sample with this median absolute deviation would have. */
export function robustSigma(values: readonly number[]): number {
  return 1.4826 * mad(values);
}

/** n per group for a two-sample z/t comparison of means: the textbook formula. */
export function twoSampleSize(sigma: number, delta: number, power: number, alpha = 0.05): number {
  if (!(delta > 0)) throw new Error('the change to detect must be greater than zero');
  if (!(power > 0 && power < 1)) throw new Error('power must be between 0 and 1 (e.g. 0.8)');
  const z = normalQuantile(1 - alpha / 2) + normalQuantile(power);
  return (2 * z * z * sigma * sigma) / (delta * delta);
}

export function estimateSamples(input: SampleSizeInput): SampleSizeEstimate {
  if (input.values.length < 3) throw new Error(`a pilot needs at least 3 usable migrations per variant (got ${input.values.length})`);
  const pilotMedian = median(input.values);
  const sigma = robustSigma(input.values);
  const delta = input.change * Math.abs(pilotMedian);
  const tTest = twoSampleSize(sigma, delta, input.power, input.alpha ?? 0.05);
  return {
    perVariant: Math.max(2, Math.ceil(tTest / RANK_TEST_EFFICIENCY)),
    perVariantTTest: Math.ceil(tTest),
    median: pilotMedian,
    sigma,
    delta,
    pilotN: input.values.length,
  };
}

/** "10%", "10", "0.1" → 0.1 */
export function parseChange(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  if (!m) throw new Error(`--change ${text}: expected a percentage such as 10%`);
  const value = Number(m[1]);
  const fraction = m[2] || value >= 1 ? value / 100 : value;
  if (!(fraction > 0 && fraction < 10)) throw new Error(`--change ${text}: expected a percentage such as 10%`);
  return fraction;
}
