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

/** Inverse standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

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

function medianOf(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

export function robustSigma(values: readonly number[]): number {
  const m = medianOf(values);
  return 1.4826 * medianOf(values.map((v) => Math.abs(v - m)));
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
  const median = medianOf(input.values);
  const sigma = robustSigma(input.values);
  const delta = input.change * Math.abs(median);
  const tTest = twoSampleSize(sigma, delta, input.power, input.alpha ?? 0.05);
  return { perVariant: Math.max(2, Math.ceil(tTest / RANK_TEST_EFFICIENCY)), perVariantTTest: Math.ceil(tTest), median, sigma, delta, pilotN: input.values.length };
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
