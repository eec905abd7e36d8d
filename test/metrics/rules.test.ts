import test from 'ava';
import { analyseMigration } from '../../harness/metrics/analyse.ts';
import { applyRule, eventsNeeded } from '../../harness/metrics/rules.ts';
import { BUILTIN_METRICS } from '../../harness/profile/metric-rules.ts';
import { parseTrace } from '../../harness/traces/parse.ts';

const legacy = (t: number, event: string, args: string) => `4242@${(t / 1e6).toFixed(6)}:${event} ${args}`;

// A QEMU 7.2 process that was the destination of one migration and then the source of the next.
const pingPongProcess = [
  legacy(1_000_000, 'runstate_set', 'current_run_state 1 (inmigrate) new_state 9 (running)'), // end of its destination role
  legacy(5_000_000, 'runstate_set', 'current_run_state 9 (running) new_state 7 (finish-migrate)'), // its source role
  legacy(5_002_000, 'runstate_set', 'current_run_state 7 (finish-migrate) new_state 5 (postmigrate)'),
].join('\n');

const otherSource = legacy(900_000, 'runstate_set', 'current_run_state 9 (running) new_state 7 (finish-migrate)');
const nextDestination = legacy(5_030_000, 'runstate_set', 'current_run_state 1 (inmigrate) new_state 9 (running)');

test('runstate: finish-migrate on the source to inmigrate -> running on the destination', (t) => {
  const r = applyRule(BUILTIN_METRICS.runstate, { source: parseTrace(otherSource).events, destination: parseTrace(pingPongProcess).events });
  t.true(r.ok);
  if (r.ok) {
    t.is(r.downtimeUs, 100_000);
    t.is(r.start.line, 1);
    t.is(r.end.line, 1);
  }
});

test('windows: a process file holding two roles yields each migration only its own events', (t) => {
  const events = parseTrace(pingPongProcess).events;
  // Migration 2 uses this process as source; without a window, "last finish-migrate" is still right,
  const second = applyRule(BUILTIN_METRICS.runstate, {
    source: events,
    destination: parseTrace(nextDestination).events,
    window: { source: { fromUs: 1_000_001 } },
  });
  t.true(second.ok);
  if (second.ok) t.is(second.downtimeUs, 30_000);
  // but migration 1 must not see the finish-migrate of migration 2 in this file's later role.
  const first = applyRule(BUILTIN_METRICS.runstate, {
    source: parseTrace(otherSource).events,
    destination: events,
    window: { destination: { toUs: 1_000_000 } },
  });
  t.true(first.ok);
  if (first.ok) t.is(first.downtimeUs, 100_000);
  // A window that excludes the destination's running transition leaves the metric without an end.
  const cut = applyRule(BUILTIN_METRICS.runstate, { source: parseTrace(otherSource).events, destination: events, window: { destination: { toUs: 999_999 } } });
  t.false(cut.ok);
});

test('a missing event is named, with the side it was missing on', (t) => {
  const r = applyRule(BUILTIN_METRICS.vdpa, { source: parseTrace(otherSource).events, destination: parseTrace(pingPongProcess).events });
  t.false(r.ok);
  if (!r.ok) {
    t.is(r.missing?.side, 'source');
    t.deepEqual(r.missing?.events, ['vhost_vdpa_suspend', 'vhost_vdpa_reset_device']);
    t.regex(r.reason, /missing event on the source: vhost_vdpa_suspend or vhost_vdpa_reset_device/);
  }
});

test('checkpoint: src-downtime-start to dst-precopy-bh-vm-started', (t) => {
  const src = [legacy(10, 'vmstate_downtime_checkpoint', 'src-downtime-start'), legacy(20, 'vmstate_downtime_checkpoint', 'src-downtime-end')].join('\n');
  const dst = [
    legacy(30, 'vmstate_downtime_checkpoint', 'dst-precopy-loadvm-completed'),
    legacy(45, 'vmstate_downtime_checkpoint', 'dst-precopy-bh-vm-started'),
  ].join('\n');
  const r = applyRule(BUILTIN_METRICS.checkpoint, { source: parseTrace(src).events, destination: parseTrace(dst).events });
  t.true(r.ok);
  if (r.ok) t.is(r.downtimeUs, 35);
});

test('vdpa: the LAST suspend on the source and the LAST enable: 1 on the destination', (t) => {
  const src = [
    legacy(1_000, 'vhost_vdpa_suspend', 'dev: 0x1'), // SVQ switch at migration start
    legacy(9_000, 'vhost_vdpa_suspend', 'dev: 0x1'), // guest freeze
  ].join('\n');
  const dst = [
    legacy(10_000, 'vhost_vdpa_set_vring_enable_one', 'dev: 0x2, idx: 2, enable: 1, r: 0'),
    legacy(11_000, 'vhost_vdpa_set_vring_enable_one', 'dev: 0x2, idx: 1, enable: 1, r: 0'),
    legacy(12_000, 'vhost_vdpa_set_vring_enable_one', 'dev: 0x2, idx: 1, enable: 0, r: 0'), // disables do not count
  ].join('\n');
  const r = applyRule(BUILTIN_METRICS.vdpa, { source: parseTrace(src).events, destination: parseTrace(dst).events });
  t.true(r.ok);
  if (r.ok) {
    t.is(r.downtimeUs, 2_000);
    t.false(r.fallback);
  }
});

test('vdpa falls back to reset_device and set_vring_ready, and says so', (t) => {
  const src = legacy(5_000, 'vhost_vdpa_reset_device', 'dev: 0x1');
  const dst = legacy(8_000, 'vhost_vdpa_set_vring_ready', 'dev: 0x2, idx: 1, r: 0');
  const r = applyRule(BUILTIN_METRICS.vdpa, { source: parseTrace(src).events, destination: parseTrace(dst).events });
  t.true(r.ok);
  if (r.ok) {
    t.is(r.downtimeUs, 3_000);
    t.true(r.fallback);
    t.is(r.start.event, 'vhost_vdpa_reset_device');
  }
});

test('vdpa-ready ends at the later of the last enable and DRIVER_OK', (t) => {
  const src = legacy(1_000, 'vhost_vdpa_suspend', 'dev: 0x1');
  const dst = [
    legacy(2_000, 'vhost_vdpa_set_vring_enable_one', 'dev: 0x2, idx: 0, enable: 1, r: 0'),
    legacy(2_500, 'vhost_vdpa_add_status', 'dev: 0x2 status: 0x3'), // no DRIVER_OK bit
    legacy(7_000, 'vhost_vdpa_add_status', 'dev: 0x2 status: 0xf'), // DRIVER_OK (0x4) set
  ].join('\n');
  const input = { source: parseTrace(src).events, destination: parseTrace(dst).events };
  const ready = applyRule(BUILTIN_METRICS['vdpa-ready'], input);
  const seed = applyRule(BUILTIN_METRICS.vdpa, input);
  t.true(ready.ok && seed.ok);
  if (ready.ok && seed.ok) {
    t.is(seed.downtimeUs, 1_000);
    t.is(ready.downtimeUs, 6_000);
    t.is(ready.end.event, 'vhost_vdpa_add_status');
  }
});

test('the clock offset corrects destination times; an end before the start is an error, not a number', (t) => {
  const src = legacy(1_000_000, 'vhost_vdpa_suspend', 'dev: 0x1');
  const dst = legacy(3_500_000, 'vhost_vdpa_set_vring_enable_one', 'dev: 0x2, idx: 0, enable: 1, r: 0');
  const input = { source: parseTrace(src).events, destination: parseTrace(dst).events };
  const shifted = applyRule(BUILTIN_METRICS.vdpa, { ...input, clockOffsetUs: 2_000_000 });
  t.true(shifted.ok);
  if (shifted.ok) {
    t.is(shifted.downtimeUs, 500_000);
    t.is(shifted.end.rawTimeUs, 3_500_000);
  }
  const wrong = applyRule(BUILTIN_METRICS.vdpa, { ...input, clockOffsetUs: 3_000_000 });
  t.false(wrong.ok);
  if (!wrong.ok) t.regex(wrong.reason, /precedes start \(vhost_vdpa_suspend, line 1\) by 500000 µs/);
});

test('analyseMigration: a missing primary metric makes the migration invalid, others are recorded', (t) => {
  const src = [legacy(1_000, 'runstate_set', 'current_run_state 9 (running) new_state 7 (finish-migrate)')].join('\n');
  const dst = [legacy(4_000, 'runstate_set', 'current_run_state 1 (inmigrate) new_state 9 (running)')].join('\n');
  const base = { sourceText: src, destinationText: dst, rules: {}, clockOffsetUs: 0 };
  const ok = analyseMigration({ ...base, names: ['runstate', 'checkpoint'], primary: 'runstate' });
  t.is(ok.status, 'ok');
  t.is(ok.downtimeMs, 3);
  t.is(ok.metrics.checkpoint, null);
  t.regex(ok.metricErrors!.checkpoint, /vmstate_downtime_checkpoint/);
  const bad = analyseMigration({ ...base, names: ['checkpoint', 'runstate'], primary: 'checkpoint' });
  t.is(bad.status, 'invalid');
  t.is(bad.downtimeMs, null);
  t.regex(bad.reason!, /primary metric checkpoint: missing event on the source/);
});

test('eventsNeeded lists every event a rule set reads', (t) => {
  t.deepEqual(eventsNeeded([BUILTIN_METRICS.vdpa]).sort(), [
    'vhost_vdpa_reset_device',
    'vhost_vdpa_set_vring_enable_one',
    'vhost_vdpa_set_vring_ready',
    'vhost_vdpa_suspend',
  ]);
});
