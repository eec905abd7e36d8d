/**
 * The tracer command lines (pure): SystemTap through qemu-trace-stap with --pid, bpftrace with one
 * usdt probe per event printing QEMU's own format on CLOCK_REALTIME, both under the watchdog that
 * ends them with their QEMU and names the output file (the leftover scan's marker).
 */
import test from 'ava';
import { bpftraceProgram, tracerArgv, tracerCommand } from '../../harness/qemu/tracer.ts';

const BIN = '/usr/libexec/qemu-kvm';
const EVENTS = ['runstate_set', 'vhost_vdpa_suspend', 'vhost_vdpa_set_vring_enable_one'];

test('systemtap: qemu-trace-stap run --pid PID BINARY EVENT..., the readiness event last', (t) => {
  t.deepEqual(tracerCommand({ kind: 'systemtap', binary: BIN, events: EVENTS }, '4242'), [
    'qemu-trace-stap',
    'run',
    '--pid',
    '4242',
    BIN,
    ...EVENTS,
    'qmp_enter_query_name',
  ]);
});

test("bpftrace: a usdt probe per event in QEMU's format, nsecs(sw_tai) less the TAI offset ($1)", (t) => {
  const program = bpftraceProgram(BIN, [...EVENTS, 'qmp_enter_query_name']);
  const lines = program.split('\n');
  t.is(lines.length, 4);
  t.is(
    lines[2],
    'usdt:/usr/libexec/qemu-kvm:qemu:vhost_vdpa_set_vring_enable_one { printf("%d@%llu vhost_vdpa_set_vring_enable_one dev: 0x%lx, idx: %u, enable: %u, r: %d\\n", pid, nsecs(sw_tai) - $1, arg0, arg1, arg2, arg3); }',
  );
  t.regex(lines[0], /current_run_state %d \(%s\) new_state %d \(%s\)\\n", pid, nsecs\(sw_tai\) - \$1, arg0, str\(arg1\), arg2, str\(arg3\)\)/);
  t.deepEqual(tracerCommand({ kind: 'bpftrace', binary: BIN, events: EVENTS }, '7').slice(0, 4), ['bpftrace', '-p', '7', '-e']);
});

test('bpftrace refuses an event whose format it does not know, and a path it cannot name, saying what to do', (t) => {
  t.throws(() => bpftraceProgram(BIN, ['virtio_notify']), { message: /knows no format for virtio_notify .* use trace.tracer: systemtap/ });
  t.throws(() => bpftraceProgram('/opt/q emu/qemu', EVENTS), { message: /cannot name the QEMU binary/ });
});

test('the watchdog: bash -c with a constant script, every value an argument (hostile strings stay data)', (t) => {
  const hostile = "/run/x'; rm -rf / #/traces/a.tracer-out";
  const argv = tracerArgv({ kind: 'systemtap', binary: BIN, events: EVENTS }, '4242', hostile);
  t.is(argv[0], 'bash');
  t.is(argv[1], '-c');
  t.false(argv[2].includes(hostile));
  t.deepEqual(argv.slice(3, 7), ['vdpa-bench-tracer', '-', '4242', hostile]);
  t.is(tracerArgv({ kind: 'bpftrace', binary: BIN, events: EVENTS }, '1', '/o')[4], 'tai');
});

test('no bpftrace probe reads past arg5: bpftrace refuses the whole program on x86_64 otherwise (arg6, arg7 and arg8 seen refused)', (t) => {
  const program = bpftraceProgram('/usr/bin/qemu-system-x86_64', ['vhost_vdpa_*', 'runstate_set', 'vmstate_downtime_checkpoint']);
  t.true(program.includes('vhost_vdpa_dma_map'));
  t.false(/\barg(?:[6789]|\d{2,})\b/.test(program), program);
});
