import test from 'ava';
import { AdaptiveSampler, fixedSamplingManifest } from '../../harness/sampling/adaptive.ts';
import { describeDesign } from '../../harness/sampling/design.ts';
import { medianInterval, medianRankBound, shouldStop } from '../../harness/sampling/precision.ts';
import { estimateSamples, parseChange, robustSigma, twoSampleSize } from '../../harness/sampling/samples.ts';
import { normalQuantile } from '../../harness/stats/normal.ts';
import type { IterationRecord } from '../../harness/results/types.ts';
import { iterationRecord } from '../helpers/records.ts';

test('median CI ranks match the binomial tables (n=6, 10, 20) and need n >= 6', (t) => {
  t.is(medianRankBound(5), 0);
  t.is(medianRankBound(6), 1); // P(X <= 0) = 1/64 = 0.0156
  t.is(medianRankBound(10), 2); // P(X <= 1) = 11/1024 = 0.0107; P(X <= 2) = 0.0547
  t.is(medianRankBound(20), 6); // P(X <= 5) = 0.0207; P(X <= 6) = 0.0577
  const i = medianInterval([5, 1, 4, 2, 3, 6]);
  t.is(i.low, 1);
  t.is(i.high, 6);
  t.is(i.median, 3.5);
  t.true(Math.abs(i.coverage! - (1 - 2 / 64)) < 1e-12);
  t.is(medianInterval([1, 2, 3]).halfWidthPct, null);
});

test('stopping rule: precision reached only after the minimum; the maximum always stops', (t) => {
  const target = { medianCiHalfWidthPct: 5, minIterations: 8, maxIterations: 12 };
  const quiet = [100, 101, 99, 100, 102, 98, 100, 101];
  t.false(shouldStop(quiet.slice(0, 7), 7, target).stop, 'below the minimum');
  const stop = shouldStop(quiet, 8, target);
  t.true(stop.stop);
  t.is(stop.reason, 'precision-reached');
  t.true(stop.interval.halfWidthPct! < 5);
  const noisy = [100, 180, 60, 140, 90, 210, 50, 120];
  t.false(shouldStop(noisy, 8, target).stop);
  t.is(shouldStop([...noisy, 70, 160, 110, 95], 12, target).reason, 'max-iterations');
  // failed migrations count towards the maximum though they give no value
  t.is(shouldStop(noisy.slice(0, 4), 12, target).reason, 'max-iterations');
});

function record(variant: string, downtimeMs: number | null, warmup = false): IterationRecord {
  return iterationRecord({ variant, warmup, status: downtimeMs === null ? 'failed' : 'ok', downtimeMs, metrics: {} });
}

test('adaptive sampler: a quiet cell finishes early, a noisy one runs to its maximum, warm-ups do not count', (t) => {
  const sampler = new AdaptiveSampler({ medianCiHalfWidthPct: 3, minIterations: 6, maxIterations: 10 });
  const quiet = { variant: 'quiet', vmSize: '1G', queuePairs: null };
  const noisy = { variant: 'noisy', vmSize: '1G', queuePairs: null };
  sampler.recorded(record('quiet', 10, true));
  for (const v of [100, 101, 99, 100, 100, 101]) sampler.recorded(record('quiet', v));
  t.true(sampler.isDone(quiet));
  for (const v of [100, 180, 60, 140, 90, 210, 50, 120, null, 75]) {
    t.false(sampler.isDone(noisy));
    sampler.recorded(record('noisy', v));
  }
  t.true(sampler.isDone(noisy));
  const manifest = sampler.manifest('block-abandoned');
  t.deepEqual(
    manifest.cells.map((c) => [c.cell, c.measured, c.usable, c.reason]),
    [
      ['quiet 1G', 6, 6, 'precision-reached'],
      ['noisy 1G', 10, 9, 'max-iterations'],
    ],
  );
  t.deepEqual(
    fixedSamplingManifest([record('x', 1), record('x', 2, true)]).cells.map((c) => [c.measured, c.reason]),
    [[1, 'fixed-count']],
  );
});

test('sample size: the textbook case (sigma = delta, power 0.8, alpha 0.05) is 15.7 per group; rank-test correction', (t) => {
  t.true(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-6);
  t.true(Math.abs(normalQuantile(0.8) - 0.841621) < 1e-6);
  t.true(Math.abs(normalQuantile(0.01) + 2.326348) < 1e-6);
  t.true(Math.abs(twoSampleSize(1, 1, 0.8) - 15.698) < 0.01);
  t.true(Math.abs(twoSampleSize(2, 1, 0.9, 0.01) - 2 * 4 * (2.575829 + 1.281552) ** 2) < 0.01);
  // a pilot whose robust sd is 10 around a median of 100: a 10% change is delta = sigma
  const values = [90, 110, 100, 100 - 10 / 1.4826, 100 + 10 / 1.4826];
  t.true(Math.abs(robustSigma(values) - 10) < 1e-9);
  const e = estimateSamples({ values, change: 0.1, power: 0.8 });
  t.is(e.perVariantTTest, 16);
  t.is(e.perVariant, Math.ceil(15.698 / (3 / Math.PI)));
  t.throws(() => estimateSamples({ values: [1, 2], change: 0.1, power: 0.8 }), { message: /at least 3/ });
});

test('change parsing and design sentences', (t) => {
  t.is(parseChange('10%'), 0.1);
  t.is(parseChange('0.05'), 0.05);
  t.is(parseChange('5'), 0.05);
  t.throws(() => parseChange('ten'));
  t.regex(describeDesign('interleaved', 1, 3, ['a', 'b']), /ABBA.*blocks of 3/);
  t.regex(describeDesign('randomized', 42, undefined, ['a', 'b']), /seed 42/);
  t.regex(describeDesign('sequential', 1, undefined, ['a', 'b']), /no protection against drift/);
});

test('samples from a pilot run directory: per cell, with a reason where it cannot estimate', async (t) => {
  const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { samplesFromRuns } = await import('../../harness/sampling/cli.ts');
  const dir = await mkdtemp(join(tmpdir(), 'vdpa-bench-samples-'));
  try {
    const values = [90, 110, 100, 100 - 10 / 1.4826, 100 + 10 / 1.4826];
    const lines = [...values.map((v) => record('a', v)), record('a', 5, true), record('a', null), record('b', 100), record('b', 101)];
    await writeFile(join(dir, 'iterations.ndjson'), lines.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const result = await samplesFromRuns([dir], '10%', 0.8, 0.05);
    t.is(result.rows[0].estimate?.perVariantTTest, 16);
    t.is(result.rows[0].pilot, 5, 'warm-ups and failed migrations are not pilot data');
    t.is(result.rows[1].estimate, null);
    t.regex(result.rows[1].reason!, /at least 3/);
    await t.throwsAsync(samplesFromRuns([dir], 'lots', 0.8, 0.05), { message: /--change lots/ });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
