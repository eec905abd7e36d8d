/**
 * A dtrace-backend tracer's output in the real formats: SystemTap's *-log.stp lines
 * (`printf("%d@%d vhost_vdpa_suspend dev: %p\n", pid(), gettimeofday_ns(), dev)`) and the lines of
 * the harness's bpftrace program are what the parser reads; the tracers' own loss messages (staprun
 * at exit on stderr, bpftrace's TextOutput::lost_events on stdout) are found verbatim.
 */
import test from 'ava';
import { parseTrace } from '../../harness/traces/parse.ts';
import { completeLines, TRACER_READY_EVENT, tracerLossMessages, tracerReady } from '../../harness/traces/tracer-output.ts';

const STAP = [
  '4242@1765120000123456789 qmp_enter_query_name {}',
  '4242@1765120001000000001 vhost_vdpa_suspend dev: 0x55d0c1a3b2c0',
  '4242@1765120001084512345 vhost_vdpa_set_vring_enable_one dev: 0x55d0c1a3b2c0, idx: 2, enable: 1, r: 0',
  '4242@1765120001090000000 runstate_set current_run_state 7 (finish-migrate) new_state 5 (postmigrate)',
].join('\n');

test('tracer lines parse as the stap format, to the microsecond, with the pid', (t) => {
  const parsed = parseTrace(STAP);
  t.deepEqual(parsed.formats, ['stap']);
  t.is(parsed.unparsedCount, 0);
  t.deepEqual(
    parsed.events.map((e) => [e.id, e.timeUs, e.name]),
    [
      [4242, 1765120000123456, TRACER_READY_EVENT],
      [4242, 1765120001000000, 'vhost_vdpa_suspend'],
      [4242, 1765120001084512, 'vhost_vdpa_set_vring_enable_one'],
      [4242, 1765120001090000, 'runstate_set'],
    ],
  );
  t.is(parsed.events[2].args, 'dev: 0x55d0c1a3b2c0, idx: 2, enable: 1, r: 0');
});

// bpftrace 0.23.2 running the harness's program (tracerArgv) on a static test binary with these SDT probes, here, verbatim
const BPFTRACE = `Attaching 5 probes...
26964@1796660406955974210 vhost_vdpa_set_vring_enable_one dev: 0x55d0c1a3b2c0, idx: 2, enable: 1, r: -3
26964@1796660406955994981 vmstate_downtime_checkpoint src-downtime-start
26964@1796660406956013228 runstate_set current_run_state 7 (finish-migrate) new_state 5 (postmigrate)
26964@1796660406956016052 vhost_vdpa_add_status dev: 0x55d0c1a3b2c0 status: 0xf
26964@1796660406956018516 qmp_enter_query_name {}
`;
const BPFTRACE_STDERR = `vdpa-bench: kernel TAI offset 0 s: bpftrace's nsecs(sw_tai) minus 0 s is CLOCK_REALTIME
WARNING: Unknown error -1: couldn't set RLIMIT_MEMLOCK for bpftrace. If your program is not loading, you can try "ulimit -l 8192" to fix the problem
`;

test("the harness's bpftrace program's real output: every event line parses, its chatter is one unparsed line, nothing is a loss", (t) => {
  const parsed = parseTrace(BPFTRACE);
  t.is(parsed.unparsedCount, 1);
  t.deepEqual(
    parsed.events.map((e) => e.name),
    ['vhost_vdpa_set_vring_enable_one', 'vmstate_downtime_checkpoint', 'runstate_set', 'vhost_vdpa_add_status', TRACER_READY_EVENT],
  );
  t.is(parsed.events[0].args, 'dev: 0x55d0c1a3b2c0, idx: 2, enable: 1, r: -3');
  t.is(parsed.events[2].args, 'current_run_state 7 (finish-migrate) new_state 5 (postmigrate)');
  t.true(tracerReady(BPFTRACE, 26964));
  t.deepEqual(tracerLossMessages(BPFTRACE, BPFTRACE_STDERR), []);
});

test('readiness is the ready event from that very process, not from another one', (t) => {
  t.true(tracerReady(STAP, 4242));
  t.false(tracerReady(STAP, 424));
  t.false(tracerReady('4242@1765120001000000001 vhost_vdpa_suspend dev: 0x1', 4242));
  t.false(tracerReady('Attached 16 probes\n', 4242));
});

test("each tracer's loss message is found verbatim; a clean run has none", (t) => {
  t.deepEqual(tracerLossMessages(STAP + '\nAttached 16 probes\n', ''), []);
  t.deepEqual(tracerLossMessages('', 'WARNING: Number of errors: 0, skipped probes: 0\n'), []);
  t.deepEqual(tracerLossMessages(`${STAP}\nLost 12 events\n`, ''), ['Lost 12 events']);
  t.deepEqual(tracerLossMessages('', 'WARNING: Number of errors: 0, skipped probes: 3\nWARNING: There were 5 transport failures.\n'), [
    'WARNING: Number of errors: 0, skipped probes: 3',
    'WARNING: There were 5 transport failures.',
  ]);
  t.deepEqual(tracerLossMessages('', 'ERROR: probe overhead exceeded threshold\n'), ['ERROR: probe overhead exceeded threshold']);
});

test('a cut takes whole lines only: a line the tracer is still writing waits for the next cut', (t) => {
  const text = Buffer.from('1@1765120000000000001 a x\n1@1765120000000000002 b');
  const first = completeLines(text, 0);
  t.is(first.lines.toString(), '1@1765120000000000001 a x\n');
  const later = Buffer.concat([text, Buffer.from(' y\n')]);
  const second = completeLines(later, first.end);
  t.is(second.lines.toString(), '1@1765120000000000002 b y\n');
  t.is(completeLines(later, second.end).lines.length, 0);
});
