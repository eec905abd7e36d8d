/**
 * Two separate groups of values in one sample (pure), split at the largest gap between sorted
 * values: from `minN` values on, each group at least two values, the gap wider than either group's
 * own range, and the higher group starting at MODE_RATIO × the lower's maximum or more. Then no
 * single median, mean or shift describes the sample: something other than the variant decided
 * which group a value fell into, and each group is reported on its own.
 */
import { median } from './describe.ts';

/** The higher group must start at this multiple of the lower's maximum or more. */
export const MODE_RATIO = 2;

export interface Group {
  n: number;
  median: number;
  min: number;
  max: number;
  values: number[];
}

export interface TwoGroups {
  low: Group;
  high: Group;
  /** Halfway across the gap: values below are the low group. */
  split: number;
}

function group(values: number[]): Group {
  return { n: values.length, median: median(values), min: values[0], max: values[values.length - 1], values };
}

export function twoGroups(values: readonly number[], minN: number): TwoGroups | null {
  const sorted = [...values].sort((a, b) => a - b);
  // two values a side from four in all is what any skewed sample shows now and then
  if (sorted.length < Math.max(4, minN)) return null;
  let cut = 2;
  for (let i = 2; i <= sorted.length - 2; i++) if (sorted[i] - sorted[i - 1] > sorted[cut] - sorted[cut - 1]) cut = i;
  const low = sorted.slice(0, cut);
  const high = sorted.slice(cut);
  const gap = high[0] - low.at(-1)!;
  const separate = gap > low.at(-1)! - low[0] && gap > high.at(-1)! - high[0] && high[0] >= MODE_RATIO * low.at(-1)!;
  return separate ? { low: group(low), high: group(high), split: (low.at(-1)! + high[0]) / 2 } : null;
}
