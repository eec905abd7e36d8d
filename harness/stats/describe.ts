/**
 * Descriptive statistics of one sample (pure): the one median, quantile and median absolute
 * deviation of the harness. Quantiles interpolate linearly (R type 7, numpy's default), which is
 * what simple-statistics computes; it selects instead of sorting for a single quantile. The mean
 * and standard deviation stay plain sums: simple-statistics compensates its sums (Neumaier),
 * which would move the last digits of every recorded figure for no difference a lab can see.
 */
import { median as selectMedian, medianAbsoluteDeviation, quantileSorted as interpolateSorted } from 'simple-statistics';

function requireValues(values: ArrayLike<number>, what: string): void {
  if (values.length === 0) throw new RangeError(`${what} of an empty sample`);
}

export function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

export function mean(values: readonly number[]): number {
  requireValues(values, 'mean');
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Sample standard deviation (n − 1); null below two values, where it is undefined. */
export function standardDeviation(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const m = mean(values);
  let squares = 0;
  for (const v of values) squares += (v - m) ** 2;
  return Math.sqrt(squares / (values.length - 1));
}

/** Quantile of an ascending sample (an array or a Float64Array), p in [0, 1]. */
export function quantileSorted(ascending: ArrayLike<number>, p: number): number {
  requireValues(ascending, 'quantile');
  // simple-statistics only reads by index and length, which a typed array has too
  return interpolateSorted(ascending as number[], p);
}

export function median(values: readonly number[]): number {
  requireValues(values, 'median');
  return selectMedian(values as number[]);
}

/** Median of an ascending sample, without sorting it again. */
export function medianSorted(ascending: ArrayLike<number>): number {
  return quantileSorted(ascending, 0.5);
}

/** Median absolute deviation from the median (unscaled). */
export function mad(values: readonly number[]): number {
  requireValues(values, 'median absolute deviation');
  return medianAbsoluteDeviation(values as number[]);
}

export interface Description {
  n: number;
  mean: number;
  median: number;
  sd: number | null;
  min: number;
  max: number;
  p95: number;
}

export function describe(values: readonly number[]): Description {
  const ascending = sorted(values);
  return {
    n: values.length,
    mean: mean(values),
    median: medianSorted(ascending),
    sd: standardDeviation(values),
    min: ascending[0],
    max: ascending[ascending.length - 1],
    p95: quantileSorted(ascending, 0.95),
  };
}
