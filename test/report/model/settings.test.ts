import test from 'ava';
import { fileURLToPath } from 'node:url';
import { readManifest } from '../../../harness/results/store.ts';
import { DEFAULT_NOISE_THRESHOLD_PCT, reportSettings } from '../../../harness/report/model/settings.ts';

const seedRun = fileURLToPath(new URL('../../fixtures/seed-run', import.meta.url));

async function withProfileText(text: string) {
  const manifest = await readManifest(seedRun);
  if (!manifest) throw new Error('the seed run has no manifest');
  return reportSettings({ ...manifest, profile: { ...manifest.profile, text } });
}

test('a profile this version cannot validate: compare, tolerance and variant order are read leniently, the rest are defaults', async (t) => {
  const settings = await withProfileText(
    [
      'name: from-another-version',
      'unknownKey: 1',
      'compare: { baseline: before, candidate: after, noiseThresholdPct: 7 }',
      'metrics: { disagreementTolerancePct: 40 }',
      'variants: [{ name: before }, { name: after }, { notAName: 3 }, null]',
    ].join('\n'),
  );
  t.is(settings.source, 'defaults');
  t.is(settings.baseline, 'before');
  t.is(settings.candidate, 'after');
  t.is(settings.noiseThresholdPct, 7);
  t.is(settings.disagreementTolerancePct, 40);
  t.deepEqual(settings.variantOrder, ['before', 'after']);
  t.regex(settings.warnings.join('\n'), /does not validate with this version/);
});

test('lenient reading takes only values of the right kind, and survives YAML that is no mapping or does not parse', async (t) => {
  const wrongKinds = await withProfileText('compare: { baseline: 3, noiseThresholdPct: "7" }\nmetrics: nope\nvariants: { name: a }');
  t.is(wrongKinds.baseline, undefined);
  t.is(wrongKinds.noiseThresholdPct, DEFAULT_NOISE_THRESHOLD_PCT);
  for (const text of ['- a list\n- not a profile', 'compare: [unclosed', '']) {
    const settings = await withProfileText(text);
    t.is(settings.baseline, undefined, JSON.stringify(text));
    t.is(settings.noiseThresholdPct, DEFAULT_NOISE_THRESHOLD_PCT, JSON.stringify(text));
  }
});
