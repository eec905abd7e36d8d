/** Descriptive statistics of one sample (pure). Quantiles interpolate linearly (R type 7, numpy's default). */

export function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('mean of an empty sample');
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

/** Quantile of an ascending sample, p in [0, 1]. */
export function quantileSorted(ascending: readonly number[], p: number): number {
  if (ascending.length === 0) throw new RangeError('quantile of an empty sample');
  const h = (ascending.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return ascending[lo] + (h - lo) * (ascending[hi] - ascending[lo]);
}

export function median(values: readonly number[]): number {
  return quantileSorted(sorted(values), 0.5);
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
    median: quantileSorted(ascending, 0.5),
    sd: standardDeviation(values),
    min: ascending[0],
    max: ascending[ascending.length - 1],
    p95: quantileSorted(ascending, 0.95),
  };
}
