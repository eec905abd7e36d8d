/**
 * Adaptive sampling (pure): how precisely a cell's median downtime is known, and when to stop
 * measuring it. The 95% confidence interval of a median is distribution-free: it runs between two
 * order statistics chosen from the binomial(n, 1/2) distribution, so no normality is assumed.
 */
import { medianSorted, sorted as ascending } from '../stats/describe.ts';

export interface MedianInterval {
  n: number;
  median: number;
  /** Bounds of the ~95% confidence interval of the median; null below the n where one exists (6). */
  low: number | null;
  high: number | null;
  /** Half the interval's width relative to the median, in percent; null when there is no interval. */
  halfWidthPct: number | null;
  /** The interval's actual coverage (order statistics give it in steps, ≥ 0.95). */
  coverage: number | null;
}

/** log C(n, k) via log-gamma-free summation (n stays in the thousands here). */
function logChoose(n: number, k: number): number {
  let sum = 0;
  for (let i = 1; i <= k; i++) sum += Math.log(n - k + i) - Math.log(i);
  return sum;
}

/**
 * The largest k (1-based) with P(Binomial(n, 1/2) < k) ≤ (1 − level) / 2: the interval is
 * [x_(k), x_(n+1−k)]. 0 when no order statistic qualifies (n too small).
 */
const rankBounds = new Map<string, number>();

export function medianRankBound(n: number, level = 0.95): number {
  const key = `${n}:${level}`;
  let k = rankBounds.get(key);
  if (k === undefined) rankBounds.set(key, (k = computeRankBound(n, level)));
  return k;
}

function computeRankBound(n: number, level: number): number {
  const tail = (1 - level) / 2;
  let cumulative = 0;
  let k = 0;
  for (let j = 0; j <= n; j++) {
    const p = Math.exp(logChoose(n, j) - n * Math.LN2);
    if (cumulative + p > tail) break;
    cumulative += p;
    k = j + 1;
  }
  return k;
}

function coverageOf(n: number, k: number): number {
  let tail = 0;
  for (let j = 0; j < k; j++) tail += Math.exp(logChoose(n, j) - n * Math.LN2);
  return 1 - 2 * tail;
}

export function medianInterval(values: readonly number[], level = 0.95): MedianInterval {
  const sorted = ascending(values);
  const n = sorted.length;
  if (n === 0) return { n, median: NaN, low: null, high: null, halfWidthPct: null, coverage: null };
  const m = medianSorted(sorted);
  const k = medianRankBound(n, level);
  if (k < 1) return { n, median: m, low: null, high: null, halfWidthPct: null, coverage: null };
  const low = sorted[k - 1];
  const high = sorted[n - k];
  return { n, median: m, low, high, halfWidthPct: m === 0 ? null : ((high - low) / 2 / Math.abs(m)) * 100, coverage: coverageOf(n, k) };
}

export interface PrecisionTarget {
  /** Stop once the median's 95% CI half-width is below this percentage of the median. */
  medianCiHalfWidthPct: number;
  minIterations: number;
  maxIterations: number;
}

export type StopReason = 'precision-reached' | 'max-iterations' | 'fixed-count' | 'block-abandoned' | 'interrupted';

export interface StopDecision {
  stop: boolean;
  reason?: StopReason;
  interval: MedianInterval;
}

/**
 * The stopping rule. `attempts` counts measured migrations run for the cell (failed ones too:
 * they cost lab time), `values` the usable downtimes among them.
 */
export function shouldStop(values: readonly number[], attempts: number, target: PrecisionTarget): StopDecision {
  const interval = medianInterval(values);
  if (values.length >= target.minIterations && interval.halfWidthPct !== null && interval.halfWidthPct < target.medianCiHalfWidthPct) {
    return { stop: true, reason: 'precision-reached', interval };
  }
  if (attempts >= target.maxIterations) return { stop: true, reason: 'max-iterations', interval };
  return { stop: false, interval };
}
