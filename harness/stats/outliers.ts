/**
 * The one place outliers are decided. Method: modified z-score over the median absolute deviation,
 * |0.6745 · (x − median) / MAD| > 3.5, the cut-off Iglewicz & Hoaglin (1993) recommend. It is
 * robust to the outliers it looks for, unlike mean ± k·sd. Outliers are flagged, never removed.
 * hyperfine computes the same score but flags only above 10 (its src/outlier_detection.rs:
 * (x − median) / MAD > 1.4826 · 10): it warns that a whole benchmark was disturbed, where a report
 * here marks single migrations for a reader to look at, so the published, lower cut-off fits.
 */
import { mad as medianAbsoluteDeviation, median } from './describe.ts';

export const OUTLIER_THRESHOLD = 3.5;
export const OUTLIER_METHOD = `modified z-score |0.6745·(x − median)/MAD| > ${OUTLIER_THRESHOLD} (Iglewicz & Hoaglin; median absolute deviation)`;

export function modifiedZScores(values: readonly number[]): number[] {
  if (values.length === 0) return [];
  const m = median(values);
  const mad = medianAbsoluteDeviation(values);
  // With MAD 0 (over half the values equal) any value off the median is infinitely far out.
  return values.map((v) => (v === m ? 0 : mad === 0 ? Math.sign(v - m) * Infinity : (0.6745 * (v - m)) / mad));
}

/** Indexes (into values) of the outliers. Fewer than three values have no outliers. */
export function outlierIndexes(values: readonly number[]): number[] {
  if (values.length < 3) return [];
  return modifiedZScores(values).flatMap((z, i) => (Math.abs(z) > OUTLIER_THRESHOLD ? [i] : []));
}
