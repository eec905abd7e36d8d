/**
 * Before/after comparison of two samples of downtimes (pure). Lower is better. A verdict needs both
 * a significant Mann–Whitney test and a change of the mean larger than the noise threshold: a
 * significant 1 % change is noise for a lab, and a large change on three migrations is luck until
 * the test says otherwise.
 */
import { mean, median } from './describe.ts';
import { hodgesLehmann, type HodgesLehmannResult } from './hodges-lehmann.ts';
import { mannWhitney, type MannWhitneyResult } from './mann-whitney.ts';

export type Verdict = 'improvement' | 'regression' | 'no significant change';

export interface CompareSettings {
  alpha: number;
  noiseThresholdPct: number;
}

export interface Comparison {
  nBaseline: number;
  nCandidate: number;
  meanBaseline: number;
  meanCandidate: number;
  medianBaseline: number;
  medianCandidate: number;
  /** candidate − baseline. */
  diffMeans: number;
  diffMedians: number;
  /** (candidate − baseline) / baseline · 100; null when the baseline is 0. */
  pctChangeMean: number | null;
  pctChangeMedian: number | null;
  hodgesLehmann: HodgesLehmannResult;
  mannWhitney: MannWhitneyResult;
  verdict: Verdict;
  /** Why, in words a reader can check. */
  verdictReason: string;
}

const percent = (from: number, to: number) => (from === 0 ? null : ((to - from) / from) * 100);

export function compareSamples(baseline: readonly number[], candidate: readonly number[], settings: CompareSettings): Comparison {
  const meanBaseline = mean(baseline);
  const meanCandidate = mean(candidate);
  const medianBaseline = median(baseline);
  const medianCandidate = median(candidate);
  const test = mannWhitney(baseline, candidate);
  const pctChangeMean = percent(meanBaseline, meanCandidate);
  const significant = test.p < settings.alpha;
  const large = pctChangeMean !== null && Math.abs(pctChangeMean) > settings.noiseThresholdPct;
  let verdict: Verdict = 'no significant change';
  let verdictReason: string;
  const pText = pPhrase(test.p);
  if (significant && large) {
    verdict = meanCandidate < meanBaseline ? 'improvement' : 'regression';
    verdictReason = `${pText} < ${settings.alpha} and |change| ${Math.abs(pctChangeMean!).toFixed(1)}% > noise threshold ${settings.noiseThresholdPct}%`;
  } else if (!significant) {
    verdictReason =
      test.minimumP !== null && test.minimumP >= settings.alpha
        ? `${pText}: with n = ${baseline.length} and ${candidate.length} the smallest possible p is ${formatP(test.minimumP)}, never below ${settings.alpha}; more migrations are needed`
        : `${pText} ≥ ${settings.alpha}`;
  } else {
    verdictReason = `${pText} < ${settings.alpha} but |change| ${pctChangeMean === null ? 'undefined (baseline 0)' : Math.abs(pctChangeMean).toFixed(1) + '%'} ≤ noise threshold ${settings.noiseThresholdPct}%`;
  }
  return {
    nBaseline: baseline.length,
    nCandidate: candidate.length,
    meanBaseline,
    meanCandidate,
    medianBaseline,
    medianCandidate,
    diffMeans: meanCandidate - meanBaseline,
    diffMedians: medianCandidate - medianBaseline,
    pctChangeMean,
    pctChangeMedian: percent(medianBaseline, medianCandidate),
    hodgesLehmann: hodgesLehmann(baseline, candidate),
    mannWhitney: test,
    verdict,
    verdictReason,
  };
}

export function formatP(p: number): string {
  if (p < 0.0001) return '< 0.0001';
  return p < 0.001 ? p.toExponential(1) : p.toFixed(p < 0.01 ? 4 : 3);
}

/** "p = 0.012" or "p < 0.0001". */
export function pPhrase(p: number): string {
  const text = formatP(p);
  return text.startsWith('<') ? `p ${text}` : `p = ${text}`;
}
