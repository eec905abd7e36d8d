import test from 'ava';
import { combineEstimates, offsetFromSamples, pairOffset, parseEpochSeconds, type ClockSample } from '../../harness/hosts/clock.ts';
import { analyseMigration } from '../../harness/metrics/analyse.ts';
import { applyRule } from '../../harness/metrics/rules.ts';
import { BUILTIN_METRICS } from '../../harness/profile/metric-rules.ts';
import { parseTrace } from '../../harness/traces/parse.ts';

/** A host whose clock is `trueOffsetUs` ahead of the harness, read `outUs` after the send and answered `backUs` later. */
function exchange(sentUs: number, outUs: number, backUs: number, trueOffsetUs: number): ClockSample {
  return { sentUs, remoteUs: sentUs + outUs + trueOffsetUs, receivedUs: sentUs + outUs + backUs };
}

test('the minimum round-trip sample wins and its half round trip bounds the error', (t) => {
  const trueOffset = 2_500_000;
  const samples = [
    exchange(1_000_000, 4_000, 300, trueOffset), // session start-up: slow and lopsided
    exchange(1_010_000, 300, 100, trueOffset),
    exchange(1_020_000, 50, 60, trueOffset), // the tightest
    exchange(1_030_000, 90, 400, trueOffset),
  ];
  const estimate = offsetFromSamples(samples);
  t.is(estimate.roundTripUs, 110);
  t.is(estimate.uncertaintyUs, 55);
  // the host read its clock 50 µs out of a 110 µs round trip: 5 µs before the midpoint
  t.is(estimate.offsetUs, trueOffset - 5);
  t.true(Math.abs(estimate.offsetUs - trueOffset) <= estimate.uncertaintyUs);
  t.is(estimate.samples, 4);
});

test('every sample bounds the true offset within its own half round trip', (t) => {
  const trueOffset = -734_211;
  for (const [out, back] of [
    [1, 999],
    [999, 1],
    [500, 500],
    [0, 0],
  ]) {
    const e = offsetFromSamples([exchange(5_000_000, out, back, trueOffset)]);
    t.true(Math.abs(e.offsetUs - trueOffset) <= e.uncertaintyUs, `out ${out} back ${back}`);
  }
});

test('samples that cannot be right are refused, and none at all is an error', (t) => {
  t.throws(() => offsetFromSamples([]), { message: /no usable clock samples/ });
  t.throws(() => offsetFromSamples([{ sentUs: 10, remoteUs: 5, receivedUs: 9 }]), { message: /no usable/ });
});

test('the pair offset is destination minus source, uncertainties added', (t) => {
  const from = { offsetUs: 1_000, uncertaintyUs: 10, roundTripUs: 20, samples: 8 };
  const to = { offsetUs: 6_000, uncertaintyUs: 20.2, roundTripUs: 40.4, samples: 8 };
  t.deepEqual(pairOffset(from, to, 'exchange'), { offsetUs: 5_000, uncertaintyUs: 31, method: 'exchange' });
});

test('before and after estimates combine to their midpoint, widened by their disagreement', (t) => {
  const combined = combineEstimates({ offsetUs: 1_000, uncertaintyUs: 40, method: 'exchange' }, { offsetUs: 1_200, uncertaintyUs: 30, method: 'exchange' });
  t.is(combined.offsetUs, 1_100);
  t.is(combined.uncertaintyUs, 140);
  t.is(combined.before.offsetUs, 1_000);
  t.is(combined.after.offsetUs, 1_200);
});

test('clock readings parse to µs without losing digits', (t) => {
  t.is(parseEpochSeconds('1764126000.123456\n'), 1_764_126_000_123_456);
  t.is(parseEpochSeconds('1764126000,000001'), 1_764_126_000_000_001);
  // ...456.789 µs is not a double: the nearest one, which parsing must give, is ...456.75
  t.is(parseEpochSeconds('1764126000.123456789'), 1_764_126_000_123_456.75);
  t.is(parseEpochSeconds('1764126000'), 1_764_126_000_000_000);
  t.throws(() => parseEpochSeconds(''), { message: /not a clock reading/ });
  t.throws(() => parseEpochSeconds('bash: EPOCHREALTIME'), { message: /not a clock reading/ });
});

// QEMU 7.2 log-backend lines (runstate_set) and the seed's vDPA events, destination clock shifted
const SHIFT_US = 5_000_000;
const source = [
  '4101@1764126000.100000:runstate_set current_run_state 9 (running) new_state 7 (finish-migrate)',
  '4101@1764126000.100250:vhost_vdpa_suspend dev: 0x55d0c1a3b2c0',
].join('\n');
function destination(shiftUs: number): string {
  const at = (us: number) => {
    const t = 1_764_126_000_000_000 + us + shiftUs;
    return `${Math.floor(t / 1e6)}.${String(t % 1e6).padStart(6, '0')}`;
  };
  return [
    `5202@${at(180_000)}:vhost_vdpa_set_vring_enable_one dev: 0x5612a0e1c3d0, idx: 0, enable: 1, r: 0`,
    `5202@${at(223_456)}:runstate_set current_run_state 6 (inmigrate) new_state 9 (running)`,
  ].join('\n');
}

test('a shifted destination clock is corrected by the offset (runstate and vdpa rules)', (t) => {
  const src = parseTrace(source).events;
  for (const shift of [SHIFT_US, -SHIFT_US, 0]) {
    const dst = parseTrace(destination(shift)).events;
    const runstate = applyRule(BUILTIN_METRICS.runstate, { source: src, destination: dst, clockOffsetUs: shift });
    const vdpa = applyRule(BUILTIN_METRICS.vdpa, { source: src, destination: dst, clockOffsetUs: shift });
    if (!runstate.ok || !vdpa.ok) return t.fail(`shift ${shift}: ${JSON.stringify([runstate, vdpa])}`);
    t.is(runstate.downtimeUs, 123_456);
    t.is(vdpa.downtimeUs, 79_750);
    t.is(runstate.end.rawTimeUs - runstate.end.timeUs, shift);
  }
});

test('without the correction a shifted clock gives a wrong or impossible downtime', (t) => {
  const src = parseTrace(source).events;
  const ahead = applyRule(BUILTIN_METRICS.runstate, { source: src, destination: parseTrace(destination(SHIFT_US)).events, clockOffsetUs: 0 });
  t.true(ahead.ok && ahead.downtimeUs === 123_456 + SHIFT_US);
  const behind = applyRule(BUILTIN_METRICS.runstate, { source: src, destination: parseTrace(destination(-SHIFT_US)).events, clockOffsetUs: 0 });
  t.false(behind.ok);
  if (!behind.ok) t.regex(behind.reason, /precedes start .* clock offset/);
});

test('analyseMigration applies the measured offset to every metric', (t) => {
  const analysis = analyseMigration({
    sourceText: source,
    destinationText: destination(-SHIFT_US),
    rules: BUILTIN_METRICS,
    names: ['runstate', 'vdpa'],
    primary: 'runstate',
    clockOffsetUs: -SHIFT_US,
  });
  t.is(analysis.status, 'ok');
  t.is(analysis.downtimeMs, 123.456);
  t.is(analysis.metrics.vdpa, 79.75);
});
