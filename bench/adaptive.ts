/**
 * What adaptive sampling saves, simulated from recorded downtimes: cells are drawn from a
 * smoothed bootstrap of a recorded cell (its values plus Gaussian kernel noise, Silverman's
 * bandwidth), with the spread around the median scaled to make quiet and noisy cells. A fixed
 * design needs one count for every cell: the smallest n at which 90% of the noisiest kind of cell
 * reach the precision target. The adaptive rule stops each cell as soon as it is that precise.
 */
import { seededRandom } from '../harness/stats/random.ts';
import { medianInterval, shouldStop, type PrecisionTarget } from '../harness/sampling/precision.ts';
import { standardDeviation } from '../harness/stats/describe.ts';
import { fmt, median, say } from './common.ts';

export interface AdaptiveResult {
  fixedN: number;
  adaptiveMean: number;
  savingPct: number;
  adaptiveMetPct: number;
  fixedMetPct: number;
}

function gaussian(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

const SPREADS = [0.25, 0.5, 1];
const CELLS_PER_SPREAD = 200;

export function benchAdaptive(recorded: readonly number[], source: string, target: PrecisionTarget, seed = 1): AdaptiveResult {
  if (recorded.length < 3) throw new Error(`adaptive-sampling benchmark: ${recorded.length} recorded downtimes, need at least 3`);
  const streams = simulatedCells(recorded, target.maxIterations, seededRandom(seed));
  const reached = (values: number[]) => (medianInterval(values).halfWidthPct ?? Infinity) < target.medianCiHalfWidthPct;
  const fixedN = fixedCount(streams[streams.length - 1], target, reached);
  let adaptiveTotal = 0;
  let adaptiveMet = 0;
  let fixedMet = 0;
  const perSpread: string[] = [];
  streams.forEach((cells, k) => {
    const used: number[] = [];
    for (const stream of cells) {
      const adaptive = adaptiveRun(stream, { ...target, maxIterations: fixedN });
      if (adaptive.met) adaptiveMet++;
      used.push(adaptive.n);
      adaptiveTotal += adaptive.n;
      if (reached(stream.slice(0, fixedN))) fixedMet++;
    }
    perSpread.push(`spread x${SPREADS[k]}: ${fmt(used.reduce((a, b) => a + b, 0) / used.length, 1)}`);
  });
  const cells = SPREADS.length * CELLS_PER_SPREAD;
  const adaptiveMean = adaptiveTotal / cells;
  const savingPct = (1 - adaptiveTotal / (fixedN * cells)) * 100;
  const result = { fixedN, adaptiveMean, savingPct, adaptiveMetPct: (adaptiveMet / cells) * 100, fixedMetPct: (fixedMet / cells) * 100 };
  say(
    `adaptive sampling, simulated from ${recorded.length} recorded downtimes (${source}), target: median 95% CI within +/-${target.medianCiHalfWidthPct}%, min ${target.minIterations}:`,
  );
  say(
    `  fixed count for the same precision (90% of the noisiest cells): ${fixedN} per cell${fixedN === target.maxIterations ? ' (capped: the noisiest cells need more)' : ''}; cells reaching the target: ${fmt(result.fixedMetPct, 1)} %`,
  );
  say(
    `  adaptive (max ${fixedN}), mean migrations per cell: ${fmt(adaptiveMean, 1)} (${perSpread.join(', ')}); cells reaching the target: ${fmt(result.adaptiveMetPct, 1)} %`,
  );
  say(`  RATIO adaptive / fixed migrations: ${fmt(adaptiveMean / fixedN, 3)}  (saves ${fmt(savingPct, 1)} % of the lab time)`);
  return result;
}

/**
 * Per spread, CELLS_PER_SPREAD cells of `length` downtimes each: a smoothed bootstrap of the
 * recorded values (Gaussian kernel, Silverman's bandwidth), scaled around the median by the spread.
 */
function simulatedCells(recorded: readonly number[], length: number, random: () => number): number[][][] {
  const center = median(recorded);
  const sorted = [...recorded].sort((a, b) => a - b);
  const iqr = sorted[Math.floor(0.75 * (sorted.length - 1))] - sorted[Math.floor(0.25 * (sorted.length - 1))];
  const sd = standardDeviation(recorded)!;
  const bandwidth = 0.9 * Math.min(sd, iqr / 1.34 || sd) * recorded.length ** -0.2;
  const draw = (spread: number) => {
    const v = recorded[Math.floor(random() * recorded.length)] + bandwidth * gaussian(random);
    return Math.max(0.001, center + (v - center) * spread);
  };
  return SPREADS.map((spread) => Array.from({ length: CELLS_PER_SPREAD }, () => Array.from({ length }, () => draw(spread))));
}

/** Fixed design: one count for all cells, the smallest that brings 90% of the noisiest kind to the target. */
function fixedCount(noisiest: number[][], target: PrecisionTarget, reached: (values: number[]) => boolean): number {
  const enough = (n: number) => noisiest.filter((s) => reached(s.slice(0, n))).length >= 0.9 * noisiest.length;
  for (let n = target.minIterations; n <= target.maxIterations; n += n < 40 ? 1 : 5) {
    if (enough(n)) return n;
  }
  return target.maxIterations;
}

/** The adaptive rule on one cell's stream: how many migrations it ran, and whether it stopped for precision. */
function adaptiveRun(stream: number[], target: PrecisionTarget): { n: number; met: boolean } {
  let n = 0;
  // kept sorted as values arrive, so each decision costs a linear pass, not a sort
  const sortedSoFar: number[] = [];
  for (;;) {
    const value = stream[n];
    let at = sortedSoFar.length;
    while (at > 0 && sortedSoFar[at - 1] > value) at--;
    sortedSoFar.splice(at, 0, value);
    n++;
    const decision = shouldStop(sortedSoFar, n, target);
    if (decision.stop) return { n, met: decision.reason === 'precision-reached' };
  }
}
