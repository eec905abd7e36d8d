/**
 * The one place outliers are decided. Method: modified z-score over the median absolute deviation
 * (Iglewicz & Hoaglin), |0.6745 · (x − median) / MAD| > 3.5 — the rule hyperfine uses. It is robust
 * to the outliers it looks for, unlike mean ± k·sd. Outliers are flagged, never removed.
 */
import { median } from './describe.ts';

export const OUTLIER_THRESHOLD = 3.5;
export const OUTLIER_METHOD = `modified z-score |0.6745·(x − median)/MAD| > ${OUTLIER_THRESHOLD} (Iglewicz & Hoaglin; median absolute deviation)`;

export function modifiedZScores(values: readonly number[]): number[] {
  if (values.length === 0) return [];
  const m = median(values);
  const mad = median(values.map((v) => Math.abs(v - m)));
  // With MAD 0 (over half the values equal) any value off the median is infinitely far out.
  return values.map((v) => (v === m ? 0 : mad === 0 ? Math.sign(v - m) * Infinity : (0.6745 * (v - m)) / mad));
}

/** Indexes (into values) of the outliers. Fewer than three values have no outliers. */
export function outlierIndexes(values: readonly number[]): number[] {
  if (values.length < 3) return [];
  return modifiedZScores(values).flatMap((z, i) => (Math.abs(z) > OUTLIER_THRESHOLD ? [i] : []));
}
