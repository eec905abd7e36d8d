import test from 'ava';
import { formatTraceTime, parseTrace, parseTraceLine } from '../../harness/traces/parse.ts';

test('log backend <= 10.0: thread id, seconds and microseconds', (t) => {
  const e = parseTraceLine('2986097@1753122905.917608:vhost_vdpa_suspend dev: 0x55d0c1a3b2c0', 7)!;
  t.is(e.format, 'log-legacy');
  t.is(e.id, 2986097);
  t.is(e.timeUs, 1753122905917608);
  t.is(e.name, 'vhost_vdpa_suspend');
  t.is(e.args, 'dev: 0x55d0c1a3b2c0');
  t.is(e.line, 7);
});

test('log backend >= 10.1: ISO UTC time, fraction present or omitted', (t) => {
  const e = parseTraceLine('2025-07-21T18:43:28.089797Z vhost_vdpa_suspend dev: 0x55d0c1a3b2c0', 1)!;
  t.is(e.format, 'log-iso');
  t.is(e.timeUs, Date.UTC(2025, 6, 21, 18, 43, 28) * 1000 + 89797);
  t.is(e.id, undefined);
  const whole = parseTraceLine('2025-07-21T18:43:28Z vhost_vdpa_suspend dev: 0x1', 2)!;
  t.is(whole.timeUs, Date.UTC(2025, 6, 21, 18, 43, 28) * 1000);
});

test('qemu-trace-stap: pid and nanoseconds, truncated to microseconds without precision loss', (t) => {
  const e = parseTraceLine('12345@1753122905917608123 vhost_vdpa_suspend dev: 0x55d0c1a3b2c0', 1)!;
  t.is(e.format, 'stap');
  t.is(e.id, 12345);
  t.is(e.timeUs, 1753122905917608);
  t.is(e.args, 'dev: 0x55d0c1a3b2c0');
});

test('events without arguments and runstate lines keep their text verbatim', (t) => {
  const e = parseTraceLine('7904@1795662152.790036:runstate_set current_run_state 9 (running) new_state 7 (finish-migrate)', 1)!;
  t.is(e.args, 'current_run_state 9 (running) new_state 7 (finish-migrate)');
  const bare = parseTraceLine('1@1.5:some_event', 1)!;
  t.is(bare.args, '');
  t.is(bare.timeUs, 1_500_000);
});

test('unparseable lines are counted and sampled, never fatal; CRLF and blank lines are fine', (t) => {
  const text = [
    "qemu-system-x86_64: warning: host doesn't support requested feature",
    '2986097@1753122905.917608:vhost_vdpa_suspend dev: 0x1\r',
    '',
    'vhost_vdpa_suspend dev: 0x1',
    '2986097@1753122905.9176', // torn mid-write
    '2025-07-21T18:43:28.089797Z vhost_vdpa_set_vring_enable_one dev: 0x1, idx: 0, enable: 1, r: 0',
  ].join('\n');
  const parsed = parseTrace(text);
  t.is(parsed.events.length, 2);
  t.is(parsed.unparsedCount, 3);
  t.deepEqual(
    parsed.unparsedSamples.map((s) => s.line),
    [1, 4, 5],
  );
  t.deepEqual(parsed.formats.sort(), ['log-iso', 'log-legacy']);
  t.is(parsed.events[0].args, 'dev: 0x1');
});

test('an event filter keeps only the named events without counting the rest as unparsed', (t) => {
  const text = '1@1.000001:a x\n1@1.000002:b y\n1@1.000003:a z\n';
  const parsed = parseTrace(text, { events: new Set(['a']) });
  t.deepEqual(
    parsed.events.map((e) => e.args),
    ['x', 'z'],
  );
  t.is(parsed.unparsedCount, 0);
});

test('formatTraceTime prints microseconds in UTC', (t) => {
  t.is(formatTraceTime(1753122905917608), '2025-07-21T18:35:05.917608Z');
});
