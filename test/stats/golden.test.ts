/**
 * Statistics figures pinned on recorded runs: the seed run (test/fixtures/seed-run) and the
 * recorded lab-in-a-box downtimes (bench/data). golden.json was written by the code BEFORE the
 * statistics core was consolidated; this test proves the consolidation changed no figure.
 *
 * Pinned: per-cell descriptions, bootstrap intervals and outliers, before/after comparisons
 * (Hodges–Lehmann shift and CI, Mann–Whitney p), nightly verdicts and change points over a
 * history built from the seed run, the adaptive-sampling decisions and sample-size estimates,
 * and the adaptive-sampling benchmark's figures. Not pinned: rendered report text (its framing
 * changes on purpose elsewhere).
 *
 * Regenerate (only when a figure is meant to change, and say why in the commit):
 *   GOLDEN_UPDATE=1 npx ava test/stats/golden.test.ts
 */
import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { benchAdaptive } from '../../bench/adaptive.ts';
import { compareNight, DEFAULT_NIGHTLY_OPTIONS } from '../../harness/nightly/compare.ts';
import { labFingerprint } from '../../harness/results/fingerprint.ts';
import type { HistoryRun } from '../../harness/nightly/history.ts';
import { detectChangePoints } from '../../harness/stats/change-points.ts';
import { readIterations, readManifest } from '../../harness/results/store.ts';
import type { IterationRecord, RunManifest } from '../../harness/results/types.ts';
import { AdaptiveSampler, fixedSamplingManifest } from '../../harness/sampling/adaptive.ts';
import { medianInterval } from '../../harness/sampling/precision.ts';
import { estimateSamples, robustSigma } from '../../harness/sampling/samples.ts';
import { bootstrapMeanMedian } from '../../harness/stats/bootstrap.ts';
import { compareSamples } from '../../harness/stats/compare.ts';
import { describe } from '../../harness/stats/describe.ts';
import { hodgesLehmann } from '../../harness/stats/hodges-lehmann.ts';
import { mannWhitney, type Alternative } from '../../harness/stats/mann-whitney.ts';
import { modifiedZScores, outlierIndexes } from '../../harness/stats/outliers.ts';
import { seededRandom } from '../../harness/stats/random.ts';

const GOLDEN = new URL('./golden.json', import.meta.url);
const SEED_RUN = new URL('../fixtures/seed-run', import.meta.url).pathname;
const RECORDED = new URL('../../bench/data/lab-in-a-box-downtimes.json', import.meta.url);

const okMeasured = (records: readonly IterationRecord[]) => records.filter((r) => !r.warmup && r.status === 'ok' && r.downtimeMs !== null);

function byCell(records: readonly IterationRecord[]): Map<string, number[]> {
  const cells = new Map<string, number[]>();
  for (const r of okMeasured(records)) {
    const key = `${r.variant} ${r.vmSize} ${r.queuePairs}qp`;
    cells.set(key, [...(cells.get(key) ?? []), r.downtimeMs!]);
  }
  return cells;
}

function sampleFigures(values: readonly number[]) {
  return {
    describe: describe(values),
    bootstrap: bootstrapMeanMedian(values),
    outliers: outlierIndexes(values),
    modifiedZ: modifiedZScores(values),
    medianInterval: medianInterval(values),
    robustSigma: values.length ? robustSigma(values) : null,
    sampleSize: values.length >= 3 ? estimateSamples({ values, change: 0.1, power: 0.8, alpha: 0.05 }) : null,
  };
}

/** The one-sided test as nightly used it before the two Mann–Whitney tests became one: same figures, its field names. */
function nightlyMannWhitney(a: readonly number[], b: readonly number[], alternative: Alternative) {
  const r = mannWhitney(a, b, alternative);
  return { u: r.uFirst, pValue: r.p, method: r.method };
}

function twoSampleFigures(baseline: readonly number[], candidate: readonly number[]) {
  return {
    compare: compareSamples(baseline, candidate, { alpha: 0.05, noiseThresholdPct: 5 }),
    hodgesLehmann90: hodgesLehmann(baseline, candidate, 0.9),
    mannWhitney: mannWhitney(baseline, candidate),
    nightlyGreater: nightlyMannWhitney(candidate, baseline, 'greater'),
    nightlyLess: nightlyMannWhitney(candidate, baseline, 'less'),
    nightlyTwoSided: nightlyMannWhitney(candidate, baseline, 'two-sided'),
  };
}

/** Ten nights of the seed run: its records, scaled per night (a step up from night 6), as history runs. */
function nightlyHistory(manifest: RunManifest, records: readonly IterationRecord[]): HistoryRun[] {
  const random = seededRandom(11);
  return Array.from({ length: 10 }, (_, night) => {
    const level = night >= 6 ? 1.2 : 1;
    const nightManifest: RunManifest = {
      ...manifest,
      runId: `night-${night}`,
      startedAt: `2025-08-${String(night + 1).padStart(2, '0')}T02:00:00.000Z`,
      state: 'completed',
    };
    const nightRecords = records.map((r) => ({
      ...r,
      downtimeMs: r.downtimeMs === null ? null : Math.round(r.downtimeMs * level * (1 + (random() - 0.5) * 0.1) * 1000) / 1000,
    }));
    return { dir: `/nowhere/night-${night}`, manifest: nightManifest, fingerprint: labFingerprint(nightManifest), records: nightRecords, tornLines: [] };
  });
}

async function figures() {
  const manifest = (await readManifest(SEED_RUN))!;
  const { records } = await readIterations(SEED_RUN);
  const cells = byCell(records);
  const perCell = Object.fromEntries([...cells].map(([key, values]) => [key, sampleFigures(values)]));
  const comparisons: Record<string, unknown> = {};
  for (const [key, baseline] of cells) {
    if (!key.startsWith('before ')) continue;
    const candidate = cells.get(key.replace(/^before /, 'after '));
    if (candidate) comparisons[key.replace(/^before /, '')] = twoSampleFigures(baseline, candidate);
  }

  const history = nightlyHistory(manifest, records);
  const nightly = [5, 6, 9].map((tonight) => {
    const verdict = compareNight(history[tonight], history.slice(0, tonight), { ...DEFAULT_NIGHTLY_OPTIONS, noiseThresholdPct: 5 });
    return {
      tonight,
      regression: verdict.regression,
      exitCode: verdict.exitCode,
      cells: verdict.cells.map(({ label, verdict, reason, tonight, baseline, changePct, pValue, test, changePoints }) => ({
        label,
        verdict,
        reason,
        tonight,
        baseline,
        changePct,
        pValue,
        test,
        changePoints,
      })),
    };
  });
  const nightsOfOneCell = history.map((h) =>
    okMeasured(h.records)
      .filter((r) => r.variant === 'after' && r.vmSize === '39G')
      .map((r) => r.downtimeMs!),
  );
  const changePoints = detectChangePoints(nightsOfOneCell, { minSegment: 3, alpha: 0.01, noisePct: 5 });

  // Large samples (normal approximations, Hodges–Lehmann by selection) and tied ones (mid-ranks):
  // drawn from the seed run's downtimes with a fixed seed.
  const pool = okMeasured(records).map((r) => r.downtimeMs!);
  const draw = seededRandom(5);
  const resample = (n: number, scale: number, digits: number) =>
    Array.from({ length: n }, () => Math.round(pool[Math.floor(draw() * pool.length)] * scale * (1 + (draw() - 0.5) * 0.2) * 10 ** digits) / 10 ** digits);
  const largeBaseline = resample(60, 1, 3);
  const largeCandidate = resample(80, 0.9, 3);
  const tiedBaseline = resample(12, 1, -2);
  const tiedCandidate = resample(15, 1.05, -2);
  const large = {
    baseline: sampleFigures(largeBaseline),
    comparison: twoSampleFigures(largeBaseline, largeCandidate),
    tied: twoSampleFigures(tiedBaseline, tiedCandidate),
  };

  const sampler = new AdaptiveSampler({ medianCiHalfWidthPct: 10, minIterations: 6, maxIterations: 12 });
  for (const r of records) sampler.recorded(r);
  const sampling = { adaptive: sampler.manifest('interrupted'), fixed: fixedSamplingManifest(records) };

  const recorded = JSON.parse(await readFile(RECORDED, 'utf8')) as { cells: Record<string, number[]> };
  const recordedCells = Object.fromEntries(Object.entries(recorded.cells).map(([cell, values]) => [cell, sampleFigures(values)]));
  const recordedNames = Object.keys(recorded.cells);
  const recordedComparison = twoSampleFigures(recorded.cells[recordedNames[0]], recorded.cells[recordedNames[1]]);
  const pooled = Object.values(recorded.cells)
    .filter((values) => values.length >= 3)
    .flatMap((values) => {
      const m = [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
      return values.map((v) => (v / m) * 100);
    });
  const quiet = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  let adaptiveBench;
  try {
    adaptiveBench = benchAdaptive(pooled, 'golden', { medianCiHalfWidthPct: 25, minIterations: 8, maxIterations: 300 });
  } finally {
    process.stdout.write = quiet;
  }

  // Through JSON, so the comparison sees exactly what the file holds (Infinity and NaN become null).
  return JSON.parse(
    JSON.stringify({
      seedRun: { perCell, comparisons, nightly, changePoints, sampling, large },
      recorded: { cells: recordedCells, comparison: recordedComparison, adaptiveBench },
    }),
  ) as unknown;
}

test('statistics figures of the recorded runs are the pinned ones', async (t) => {
  const actual = await figures();
  if (process.env.GOLDEN_UPDATE) {
    await writeFile(GOLDEN, JSON.stringify(actual, null, 1) + '\n');
    t.log(`wrote ${GOLDEN.pathname}`);
  }
  const expected = JSON.parse(await readFile(GOLDEN, 'utf8')) as unknown;
  t.deepEqual(actual, expected);
});
