/** The small-n rules and invalid migrations at their value, on records built here (pure: no browser). */
import test from 'ava';
import { distributionCharts, runOrderCharts } from '../../../harness/report/export/html/charts.ts';
import { renderMarkdown } from '../../../harness/report/export/markdown.ts';
import { reportSettings } from '../../../harness/report/model/settings.ts';
import { buildSummary } from '../../../harness/report/model/summary.ts';
import { MIN_N_FOR_INTERVAL } from '../../../harness/report/model/types.ts';
import { renderText } from '../../../harness/report/export/text.ts';
import { parseIterations } from '../../../harness/results/store.ts';
import { platformSentence } from '../../../harness/report/model/run-info.ts';
import { twoGroups } from '../../../harness/report/model/warnings.ts';

type Row = { variant: string; downtimeMs: number | null; status?: 'ok' | 'invalid'; metric?: number };
const lines = (rows: Row[]) =>
  rows
    .map((r) =>
      JSON.stringify({
        variant: r.variant,
        vmSize: '1G',
        status: r.status ?? 'ok',
        downtimeMs: r.status === 'invalid' ? null : r.downtimeMs,
        metrics: { runstate: r.metric ?? r.downtimeMs },
        primaryMetric: 'runstate',
        ...(r.status === 'invalid' ? { reason: 'guest failed its checks after migration: console: BUG: kernel NULL pointer dereference' } : {}),
      }),
    )
    .join('\n') + '\n';

function summaryOf(rows: Row[]) {
  const { records } = parseIterations(lines(rows));
  return buildSummary({ runs: [{ runId: 'small', dir: null, manifest: null, records }], settings: reportSettings(null), records });
}

test(`below n = ${MIN_N_FOR_INTERVAL}: no interval, no p95, no box; the verdict says the smallest attainable p (3 vs 3: 0.1)`, (t) => {
  const summary = summaryOf([100, 110, 120].map((d) => ({ variant: 'a', downtimeMs: d })).concat([50, 55, 60].map((d) => ({ variant: 'b', downtimeMs: d }))));
  const a = summary.cells.find((c) => c.variant === 'a')!.metrics.runstate!;
  t.is(a.n, 3);
  t.is(a.median, 110);
  t.false(a.intervals);
  t.is(a.meanCI, null);
  t.is(a.medianCI, null);
  t.is(a.p95, null);
  const comparison = summary.comparisons[0].metrics.runstate;
  if ('error' in comparison) return t.fail(comparison.error);
  t.is(comparison.mannWhitney.minimumP, 0.1);
  t.is(comparison.verdict, 'no significant change', 'every b below every a, yet 3 vs 3 cannot reach 0.05');
  const text = renderText(summary);
  t.regex(text, /n = 3\/3; with n = 3\/3 the smallest attainable p is 0\.100/);
  t.true(summary.warnings.some((w) => w.kind === 'small-n' && w.evidence.some((e) => /smallest attainable p 0\.10/.test(e))));
  t.regex(renderMarkdown(summary), /110\.0 ms \(n too small for an interval\)/);
  const layers = (distributionCharts(summary)[0].spec as { layer: { mark: { type: string } }[] }).layer;
  t.false(
    layers.some((l) => l.mark.type === 'boxplot'),
    'no box for n = 3',
  );
});

test(`from n = ${MIN_N_FOR_INTERVAL} on: intervals, p95 and a box`, (t) => {
  const summary = summaryOf([100, 101, 102, 103, 104, 105].map((d) => ({ variant: 'a', downtimeMs: d })));
  const a = summary.cells[0].metrics.runstate!;
  t.true(a.intervals);
  t.truthy(a.meanCI);
  t.is(typeof a.p95, 'number');
  const layers = (distributionCharts(summary)[0].spec as { layer: { mark: { type: string } }[] }).layer;
  t.true(layers.some((l) => l.mark.type === 'boxplot'));
});

test('invalid migrations: drawn at their measured value (never 0), left out of the statistics, and a systematic difference is a selection-bias warning', (t) => {
  const rows: Row[] = [
    ...[120, 125, 130, 135, 140, 145].map((d) => ({ variant: 'a', downtimeMs: d })),
    { variant: 'a', downtimeMs: null, status: 'invalid', metric: 17 },
    { variant: 'a', downtimeMs: null, status: 'invalid', metric: 51 },
  ];
  const summary = summaryOf(rows);
  const cell = summary.cells[0];
  t.is(cell.metrics.runstate!.n, 6);
  t.is(cell.metrics.runstate!.min, 120, 'invalid values are not in the statistics');
  t.is(cell.counts.invalid, 2);
  const layers = (runOrderCharts(summary)[0].spec as unknown as { layer: { data?: { values: { downtime?: number; kind?: string }[] } }[] }).layer;
  const points = layers.flatMap((l) => l.data?.values ?? []);
  t.deepEqual(
    points.filter((p) => p.kind?.startsWith('invalid')).map((p) => p.downtime),
    [17, 51],
  );
  t.false(
    points.some((p) => p.downtime === 0),
    'nothing drawn at 0',
  );
  const damaged = summary.warnings.find((w) => w.kind === 'damaged-guest')!;
  t.regex(damaged.message, /^2 of 8 migrations left the guest damaged/);
  t.regex(damaged.evidence[0], /migration 7 \(a 1G, measured 17\.0 ms\): guest failed its checks after migration: console: BUG/);
  const bias = summary.warnings.find((w) => w.kind === 'selection-bias')!;
  t.regex(bias.message, /Invalid migrations differ systematically from the ok ones in 1 cell/);
  t.regex(bias.evidence[0], /a 1G: all 2 invalid below the ok median 132\.5 ms \(17\.0 ms, 51\.0 ms\); mean with them 107\.9 ms, without 132\.5 ms/);
  t.regex(renderMarkdown(summary), /\| 7 \| a 1G \| 7 \| invalid \| 17\.0 ms \| guest failed/);
});

test('no manifest: the primary metric is downtimeMs, named as such', (t) => {
  const { records } = parseIterations(lines([{ variant: 'a', downtimeMs: 5 }]).replace(/,"metrics":\{[^}]*\},"primaryMetric":"runstate"/g, ''));
  const summary = buildSummary({ runs: [{ runId: 'foreign', dir: null, manifest: null, records }], settings: reportSettings(null), records });
  t.is(summary.primary, 'downtimeMs');
  t.is(summary.cells[0].metrics.downtimeMs!.median, 5);
  t.regex(renderText(summary), /by the "downtimeMs" metric/);
});

test('the platform sentence names QEMU once before its version', (t) => {
  const sentence = platformSentence({
    accel: 'tcg',
    hosts: [],
    nic: 'virtio-net-pci',
    mode: 'on a tap',
    qemu: { idle: { hostA: 'QEMU emulator version 10.0.13 (Debian 1:10.0.13+ds-0+deb13u1)' } },
  } as unknown as Parameters<typeof platformSentence>[0]);
  t.regex(sentence, /; QEMU 10\.0\.13 \(Debian 1:10\.0\.13\+ds-0\+deb13u1\)\.$/);
  t.notRegex(sentence, /QEMU QEMU/);
});

test('an untraceable event is a warning only where it cost a metric: not when a newer alternative was traced', (t) => {
  const record = (variant: string, metricErrors?: Record<string, string>) =>
    JSON.stringify({
      variant,
      vmSize: '1G',
      status: 'ok',
      downtimeMs: 100,
      metrics: { runstate: 100, checkpoint: null },
      primaryMetric: 'runstate',
      metricErrors,
    });
  const text = [
    record('old', { checkpoint: 'missing event on the source: vmstate_downtime_checkpoint' }),
    record('old', { checkpoint: 'missing event on the source: vmstate_downtime_checkpoint' }),
    // enable_one was traceable: its absence is the device's doing, not this QEMU's tracing
    record('new', { checkpoint: 'missing event on the destination: vhost_vdpa_set_vring_enable_one or vhost_vdpa_set_vring_ready' }),
  ].join('\n');
  const { records } = parseIterations(text + '\n');
  const manifest = {
    variants: [
      { name: 'old', traceEventsMissing: ['vmstate_downtime_checkpoint', 'vhost_vdpa_set_vring_ready'] },
      { name: 'new', traceEventsMissing: ['vhost_vdpa_set_vring_ready'] },
    ],
  } as unknown as Parameters<typeof buildSummary>[0]['runs'][0]['manifest'];
  const summary = buildSummary({ runs: [{ runId: 'trace', dir: null, manifest, records }], settings: reportSettings(null), records });
  const traced = summary.warnings.filter((w) => /cannot trace/.test(w.message));
  t.deepEqual(
    traced.map((w) => w.message),
    ['old: this QEMU cannot trace vmstate_downtime_checkpoint, vhost_vdpa_set_vring_ready, so checkpoint could not be computed for it'],
  );
  t.deepEqual(traced[0].evidence, ['checkpoint: 2 of 2 migrations: missing event on the source: vmstate_downtime_checkpoint']);
});

test('a cell whose values fall into two separate groups is flagged with both groups; one spread-out group is not', (t) => {
  const rows = [309, 374, 780, 3017, 3087, 3131, 3148, 3945]
    .map((d) => ({ variant: 'before', downtimeMs: d }))
    .concat([133, 134, 139, 149, 155, 159, 166, 185].map((d) => ({ variant: 'after', downtimeMs: d })));
  const summary = summaryOf(rows);
  const bimodal = summary.warnings.filter((w) => w.kind === 'bimodal');
  t.is(bimodal.length, 1);
  t.deepEqual(bimodal[0].evidence, [`${summary.cells.find((c) => c.variant === 'before')!.label}: 3 of 8 at 309.0 ms–780.0 ms, 5 at 3.02 s–3.94 s`]);
  t.is(twoGroups([100, 120, 150, 190, 240, 300, 370]), null, 'a wide but continuous spread is one group');
  t.is(twoGroups([100, 101, 102, 103, 104, 250]), null, 'fewer than two values on a side is no group');
  t.is(twoGroups([100, 101, 300, 301]), null, `fewer than ${MIN_N_FOR_INTERVAL} values are not split at all`);
  t.truthy(twoGroups([100, 101, 102, 300, 301, 302]));
});
