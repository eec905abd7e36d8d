import test from 'ava';
import { analyseMigration } from '../../harness/metrics/analyse.ts';
import { computePhases, countVrings, type VdpaPhases } from '../../harness/metrics/phases.ts';
import { type MetricRule } from '../../harness/profile/schema.ts';
import { BUILTIN_METRICS } from '../../harness/profile/metric-rules.ts';
import { parseTrace } from '../../harness/traces/parse.ts';
import { destinationLines, render, sourceLines, T0, type Format, type Scenario } from '../helpers/vdpa-traces.ts';

const FORMATS: Format[] = ['log-legacy', 'log-iso', 'stap'];
const rules = BUILTIN_METRICS as Record<string, MetricRule>;

function analyse(s: Scenario, format: Format, clockOffsetUs = 0) {
  return analyseMigration({
    sourceText: render(sourceLines(s), format),
    destinationText: render(destinationLines(s), format, 2986203),
    rules,
    names: ['vdpa', 'vdpa-ready', 'runstate'],
    primary: 'vdpa',
    clockOffsetUs,
    queuePairs: s.queuePairs,
    destinationQmpReadyMs: 212,
  });
}

const after: Scenario = { queuePairs: 8, stop: 'suspend', enable: 'enable_one', pinning: 'at-startup' };
const before: Scenario = { ...after, pinning: 'at-start' };

for (const format of FORMATS) {
  test(`${format}: the seed's vdpa metric on 8 queue pairs, pinning at start-up (after the series)`, (t) => {
    const a = analyse(after, format);
    t.is(a.status, 'ok');
    // last suspend (T0+1.0001 s) to the enable of idx 15 (T0+1.3045 s)
    t.is(a.metrics.vdpa, 304.4);
    t.is(a.metricAnchors!.vdpa.end.event, 'vhost_vdpa_set_vring_enable_one');
    t.false(a.metricAnchors!.vdpa.fallback);
    const phases = a.extra!.phases as VdpaPhases & { vdpaRule: { fallback: string | null } };
    t.deepEqual(phases.vrings, {
      event: 'vhost_vdpa_set_vring_enable_one',
      enabled: 17,
      expected: 17,
      order: [16, ...Array.from({ length: 16 }, (_, i) => i)],
      failed: [],
      ok: true,
    });
    t.is(phases.pinning.batches.length, 1);
    t.is(phases.pinning.main!.dmaMaps, 2);
    t.is(phases.pinning.main!.bytes, 4 * 2 ** 30);
    t.false(phases.pinning.overlapsDowntime);
    t.is(phases.driverOk!.timeUs, T0 + 1_300_200);
    t.is(phases.driverOk!.afterDowntimeStartMs, 300.1);
    t.is(phases.destinationQmpBlackoutMs, 212);
    t.is(phases.vdpaRule.fallback, null);
  });

  test(`${format}: before the series the destination pins inside the downtime window`, (t) => {
    const a = analyse(before, format);
    t.is(a.status, 'ok');
    t.is(a.metrics.vdpa, 907.9);
    const phases = a.extra!.phases as VdpaPhases;
    t.true(phases.pinning.overlapsDowntime);
    t.is(phases.pinning.overlapMs, 602.5);
    t.is(phases.pinning.main!.durationMs, 602.5);
    t.is(phases.pinning.totalBytes, 4 * 2 ** 30);
  });

  test(`${format}: QEMU 8.1-8.2 fallback: vhost_vdpa_set_vring_ready ends the span and counts the vrings`, (t) => {
    const a = analyse({ ...after, enable: 'ready' }, format);
    t.is(a.status, 'ok');
    t.is(a.metrics.vdpa, 304.4);
    t.is(a.metricAnchors!.vdpa.end.event, 'vhost_vdpa_set_vring_ready');
    t.true(a.metricAnchors!.vdpa.fallback);
    const phases = a.extra!.phases as VdpaPhases & { vdpaRule: { fallback: string | null } };
    t.like(phases.vrings, { event: 'vhost_vdpa_set_vring_ready', enabled: 17, ok: true });
    t.regex(phases.vdpaRule.fallback!, /QEMU 8\.1-8\.2/);
  });

  test(`${format}: a device that cannot suspend: vhost_vdpa_reset_device starts the span`, (t) => {
    const a = analyse({ ...after, stop: 'reset' }, format);
    t.is(a.status, 'ok');
    t.is(a.metrics.vdpa, 304.4);
    t.is(a.metricAnchors!.vdpa.start.event, 'vhost_vdpa_reset_device');
    t.true(a.metricAnchors!.vdpa.fallback);
    t.regex((a.extra!.phases as { vdpaRule: { fallback: string } }).vdpaRule.fallback, /cannot suspend/);
  });

  test(`${format}: a migration with a vring missing is invalid, with the reason`, (t) => {
    const a = analyse({ ...after, skipIdx: [7] }, format);
    t.is(a.status, 'invalid');
    t.is(a.reason, '16 vrings enabled on the destination, expected 17 for 8 queue pairs (missing idx 7)');
    // the metric itself is still computed and kept (one enable fewer: 250 µs earlier)
    t.is(a.metrics.vdpa, 304.15);
  });
}

test('a destination clock running ahead is corrected in the span and in the phases', (t) => {
  const skew = 3_250_000;
  const a = analyse({ ...before, destinationSkewUs: skew }, 'log-iso', skew);
  t.is(a.metrics.vdpa, 907.9);
  const phases = a.extra!.phases as VdpaPhases;
  t.is(phases.pinning.overlapMs, 602.5);
  t.is(phases.driverOk!.timeUs, T0 + 1_903_700);
  // uncorrected, the same traces put the whole pinning after the downtime window
  const wrong = analyse({ ...before, destinationSkewUs: skew }, 'log-iso', 0);
  t.not(wrong.metrics.vdpa, 907.9);
});

test('without a vDPA cell no vDPA phases are attached; the window is still attributed (here: nothing brackets it)', (t) => {
  const a = analyseMigration({
    sourceText: render(sourceLines(after), 'log-legacy'),
    destinationText: render(destinationLines(after), 'log-legacy'),
    rules,
    names: ['vdpa'],
    primary: 'vdpa',
    clockOffsetUs: 0,
  });
  t.is(a.status, 'ok');
  t.is(a.extra?.phases, undefined);
  t.deepEqual(
    a.extra?.downtimeAttribution?.phases.map((p) => [p.name, p.durationMs]),
    [['unattributed', 304.4]],
  );
  t.is(a.extra?.downtimeAttribution?.pinning, null);
});

test('vring counting: failed enables and unexpected indexes are named; QEMU 8.0 lines cannot be counted', (t) => {
  const events = parseTrace(
    render(
      [
        { t: T0, name: 'vhost_vdpa_set_vring_enable_one', args: 'dev: 0x55d0c1a3b2c0, idx: 2, enable: 1, r: 0' },
        { t: T0 + 1, name: 'vhost_vdpa_set_vring_enable_one', args: 'dev: 0x55d0c1a3b2c0, idx: 0, enable: 1, r: -22' },
        { t: T0 + 2, name: 'vhost_vdpa_set_vring_enable_one', args: 'dev: 0x55d0c1a3b2c0, idx: 1, enable: 1, r: 0' },
        { t: T0 + 3, name: 'vhost_vdpa_set_vring_enable_one', args: 'dev: 0x55d0c1a3b2c0, idx: 0, enable: 0, r: 0' },
        { t: T0 + 4, name: 'vhost_vdpa_set_vring_enable_one', args: 'dev: 0x55d0c1a3b2c0, idx: 5, enable: 1, r: 0' },
      ],
      'log-legacy',
    ),
  ).events;
  const v = countVrings(events, 1);
  t.false(v.ok);
  t.is(
    (v as { problem: string }).problem,
    'enabling vring 0 (r -22) failed; 3 vrings enabled on the destination, expected 3 for 1 queue pair (missing idx 0) (unexpected idx 5)',
  );
  const old = parseTrace(render([{ t: T0, name: 'vhost_vdpa_set_vring_ready', args: 'dev: 0x55d0c1a3b2c0' }], 'log-legacy')).events;
  t.deepEqual(countVrings(old, 1), {
    ok: null,
    reason: 'vhost_vdpa_set_vring_ready without an idx (QEMU 8.0 prints only the device): vrings cannot be counted',
  });
});

test('pinning batches: dma_maps outside a batch count in the totals only; no downtime window means no overlap', (t) => {
  const events = parseTrace(
    render(
      [
        {
          t: T0,
          name: 'vhost_vdpa_dma_map',
          args: 'vdpa_shared:0x55d0c1b4e8a0 fd: 17 msg_type: 2 asid: 1 iova: 0x107000 size: 0x1000 uaddr: 0x7f1e3ffff000 perm: 0x1 type: 2',
        },
        { t: T0 + 10, name: 'vhost_vdpa_listener_begin_batch', args: 'vdpa_shared:0x55d0c1b4e8a0 fd: 17 msg_type: 2 type: 5' },
        { t: T0 + 20, name: 'vhost_vdpa_listener_commit', args: 'vdpa_shared:0x55d0c1b4e8a0 fd: 17 msg_type: 2 type: 6' },
      ],
      'stap',
    ),
  ).events;
  const p = computePhases({ destination: events, queuePairs: 1, clockOffsetUs: 0 });
  t.is(p.pinning.totalDmaMaps, 1);
  t.is(p.pinning.totalBytes, 0x1000);
  t.is(p.pinning.batches.length, 1);
  t.is(p.pinning.main, null);
  t.false(p.pinning.overlapsDowntime);
  t.is(p.downtimeWindow, null);
});
