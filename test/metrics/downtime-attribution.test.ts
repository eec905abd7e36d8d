import test from 'ava';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { readTar } from '../../harness/verify/tar.ts';
import { analyseMigration } from '../../harness/metrics/analyse.ts';
import { attributeDowntime, pinningPlacement, type DowntimeAttribution } from '../../harness/metrics/downtime-attribution.ts';
import { BUILTIN_METRICS } from '../../harness/profile/metric-rules.ts';
import type { MetricRule } from '../../harness/profile/schema.ts';
import type { IterationRecord } from '../../harness/results/types.ts';
import { destinationLines, render, sourceLines, type Scenario } from '../helpers/vdpa-traces.ts';

/** The two-host precision run's records (test fixture): real QEMU 10.0.13 (before) and 11.1.3 (after) migrations, their trace milestones kept in the records (the traces themselves were not kept). */
const PRECISION = 'test/fixtures/two-hosts-precision/iterations.ndjson';
const records = readFileSync(PRECISION, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as IterationRecord)
  .filter((r) => r.status === 'ok');

/** The attribution from what a record kept of its traces (the last vring enable is the vdpa window's end). */
function fromRecord(r: IterationRecord): DowntimeAttribution {
  const anchors = r.metricAnchors!.vdpa;
  const phases = r.extra!.phases!;
  return attributeDowntime({
    window: { metric: 'vdpa', startUs: anchors.start.timeUs, endUs: anchors.end.timeUs },
    checkpoints: r.extra!.downtimePhases!.checkpoints,
    vdpa: { batches: phases.pinning.batches, driverOkUs: phases.driverOk?.timeUs ?? null, vringEnablesUs: [anchors.end.timeUs] },
  });
}
const us = (a: DowntimeAttribution, name: string) => a.phases.find((p) => p.name === name)?.durationUs ?? 0;

test('every migration of both QEMU versions: the phases add up to the vdpa window exactly, none unattributed', (t) => {
  t.is(records.length, 58);
  for (const r of records) {
    const a = fromRecord(r);
    t.is(
      a.phases.reduce((s, p) => s + p.durationUs, 0),
      a.windowUs,
      `seq ${r.seq}`,
    );
    t.is(a.windowUs / 1000, r.metrics.vdpa!, `seq ${r.seq}`);
    t.is(a.unattributedMs, 0, `seq ${r.seq}: ${JSON.stringify(a.phases)}`);
  }
});

test('QEMU 10.0 (before): the pinning batch inside the window is most of it; 11.1 (after): no pinning inside, the window is the switchover', (t) => {
  for (const r of records) {
    const a = fromRecord(r);
    if (r.variant === 'before') {
      // fast (0.1–0.3 s) or slow (1.1–7.5 s), the pinning is what varies: the rest of the window stays under 1 s
      t.true(us(a, 'pinning') > 0, `seq ${r.seq}`);
      t.true(a.windowUs - us(a, 'pinning') < 1_000_000, `seq ${r.seq}`);
      t.is(a.pinning!.insideWindowMs, us(a, 'pinning') / 1000);
    } else {
      t.is(us(a, 'pinning'), 0, `seq ${r.seq}`);
      t.is(a.pinning!.insideWindowMs, 0);
      t.true(a.pinning!.beforeWindowMs > 0, `seq ${r.seq}: pinned before the freeze`);
    }
  }
});

test('migration 1 (10.0, 128M) phase by phase, from its trace lines', (t) => {
  const a = fromRecord(records.find((r) => r.seq === 1)!);
  // window: vhost_vdpa_suspend 1795845192172061 → last enable 1795845193823302
  t.deepEqual(
    a.phases.map((p) => [p.name, p.durationUs]),
    [
      ['source stop', 196026 - 172061],
      ['iterable state saved', 214478 - 196026],
      ['non-iterable state saved', 265253 - 214478],
      ['destination load completed', 317417 - 265253],
      // loadvm completed → the listener's batch begins, and the last DRIVER_OK → the last enable
      ['device start (other)', 347859 - 317417 + (823302 - 822192)],
      ['pinning', 1473230],
      ['until DRIVER_OK', 822192 - 821089],
    ],
  );
});

test('a piece no pair of events brackets is unattributed, never hidden; the vring enables are their own phase', (t) => {
  const scenario: Scenario = { queuePairs: 1, stop: 'suspend', enable: 'enable_one', pinning: 'at-start' };
  const a = analyseMigration({
    sourceText: render(sourceLines(scenario), 'log-legacy'),
    destinationText: render(destinationLines(scenario), 'log-legacy', 2986203),
    rules: BUILTIN_METRICS as Record<string, MetricRule>,
    names: ['vdpa'],
    primary: 'vdpa',
    clockOffsetUs: 0,
    queuePairs: 1,
  });
  const attribution = a.extra!.downtimeAttribution!;
  // no checkpoints in these traces: the source side and the destination up to the batch are unattributed
  t.deepEqual(
    attribution.phases.map((p) => p.name),
    ['pinning', 'until DRIVER_OK', 'vring enables', 'unattributed'],
  );
  t.is(
    attribution.phases.reduce((s, p) => s + p.durationUs, 0),
    attribution.windowUs,
  );
  t.is(attribution.windowUs / 1000, a.metrics.vdpa!);
  t.is(us(attribution, 'vring enables'), 550); // idx 2, net_load_mq 50 µs later, then idx 0 and 1 250 µs apart
  t.is(attribution.vringEnables, 3);
  t.true(attribution.unattributedMs > 0);
});

test('pinning placement: before the freeze, inside the window, after it', (t) => {
  t.deepEqual(pinningPlacement([{ beginUs: 0, commitUs: 100_000 }], 50_000, 60_000), {
    totalMs: 100,
    beforeWindowMs: 50,
    insideWindowMs: 10,
    afterWindowMs: 40,
    batches: 1,
  });
  t.deepEqual(pinningPlacement([{ beginUs: 70_000, commitUs: 80_000 }], 50_000, 60_000).afterWindowMs, 10);
});

test('the backports re-run as recorded (iterations.ndjson and traces of 10.0.13 and 11.1.3 in the shipped bundle): every ok migration stored phases that add up to its window, and they re-derive from its traces', (t) => {
  const bundle = 'docs/results/2026-12-07-softlab-two-hosts-backports/softlab-two-hosts-backports-20261207-160900-fc0a.tar.gz';
  const entries = new Map(readTar(gunzipSync(readFileSync(bundle))).map((e) => [e.name.split('/').slice(1).join('/'), e.data]));
  const recorded = entries
    .get('iterations.ndjson')!
    .toString('utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as IterationRecord)
    .filter((r) => r.status === 'ok');
  const versions = new Set<string>();
  for (const r of recorded) {
    const stored = r.extra!.downtimeAttribution!;
    t.is(
      stored.phases.reduce((s, p) => s + p.durationUs, 0),
      stored.windowUs,
      `seq ${r.seq}`,
    );
    t.is(stored.windowUs / 1000, r.metrics.vdpa!, `seq ${r.seq}`);
    const again = analyseMigration({
      sourceText: entries.get(r.traces.source)!.toString('utf8'),
      destinationText: entries.get(r.traces.destination)!.toString('utf8'),
      rules: BUILTIN_METRICS as Record<string, MetricRule>,
      names: Object.keys(r.metrics),
      primary: 'vdpa',
      clockOffsetUs: r.clock!.offsetUs,
      windows: r.windows,
      queuePairs: r.queuePairs,
    });
    t.deepEqual(again.extra!.downtimeAttribution, stored, `seq ${r.seq}`);
    versions.add(r.variant);
  }
  t.deepEqual([...versions].sort(), ['after', 'before']);
  t.true(recorded.length >= 40);
});
