/**
 * A shift decomposed into parts that add up to it (pure). Each migration's downtime is the sum of
 * its phases, so the difference of the mean downtimes is exactly the sum of the differences of the
 * phases' means; the Hodges–Lehmann shift (a median of differences) has no such sum, which is why
 * a decomposition is of means. Each part's interval comes from the same bootstrap resamples of
 * migrations (a migration keeps all its phases together), seeded, so a report is reproducible.
 */
import { percentileInterval, type BootstrapSettings, type Interval } from './bootstrap.ts';
import { mean } from './describe.ts';
import { seededRandom } from './random.ts';

export interface PartShift {
  part: string;
  /** mean(candidate) − mean(baseline) of this part. */
  shift: number;
  ci: Interval;
  meanBaseline: number;
  meanCandidate: number;
}

export interface Decomposition {
  /** mean(candidate total) − mean(baseline total): the parts' shifts add up to it. */
  total: PartShift;
  parts: PartShift[];
}

/** Rows are migrations, each a value per part (in `parts` order); the total of a row is its sum. */
export function decomposeMeanShift(
  parts: readonly string[],
  baseline: readonly (readonly number[])[],
  candidate: readonly (readonly number[])[],
  settings: BootstrapSettings,
): Decomposition | null {
  if (baseline.length === 0 || candidate.length === 0) return null;
  const width = parts.length + 1;
  const withTotal = (rows: readonly (readonly number[])[]) => rows.map((r) => [...r, r.reduce((s, v) => s + v, 0)]);
  const b = withTotal(baseline);
  const c = withTotal(candidate);
  const column = (rows: number[][], j: number) => rows.map((r) => r[j]);
  const estimates = Array.from({ length: width }, () => new Float64Array(settings.resamples));
  const random = seededRandom(settings.seed);
  const sums = new Float64Array(width);
  for (let k = 0; k < settings.resamples; k++) {
    sums.fill(0);
    for (let i = 0; i < b.length; i++) {
      const row = b[Math.floor(random() * b.length)];
      for (let j = 0; j < width; j++) sums[j] -= row[j] / b.length;
    }
    for (let i = 0; i < c.length; i++) {
      const row = c[Math.floor(random() * c.length)];
      for (let j = 0; j < width; j++) sums[j] += row[j] / c.length;
    }
    for (let j = 0; j < width; j++) estimates[j][k] = sums[j];
  }
  const shiftOf = (j: number, part: string): PartShift => {
    const meanBaseline = mean(column(b, j));
    const meanCandidate = mean(column(c, j));
    return { part, shift: meanCandidate - meanBaseline, ci: percentileInterval(estimates[j], settings.confidence), meanBaseline, meanCandidate };
  };
  return { total: shiftOf(parts.length, 'total'), parts: parts.map((p, j) => shiftOf(j, p)) };
}
