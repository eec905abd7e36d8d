/**
 * The tracer that captures a dtrace-backend QEMU's trace events (pure: command lines only). A
 * distribution QEMU (RHEL/Fedora qemu-kvm) is built with `--enable-trace-backends=dtrace` only:
 * `-trace`/`-D` write nothing there and its events are SDT probes. One tracer per QEMU process,
 * attached to that process only, with exactly the events the run enables, printing
 * `PID@NANOSECONDS event args` lines in CLOCK_REALTIME nanoseconds (traces/parse.ts, 'stap'):
 *   systemtap: `qemu-trace-stap run --pid PID BINARY EVENT...` (its *-log.stp probes print
 *              `pid()@gettimeofday_ns()`, CLOCK_REALTIME);
 *   bpftrace:  `bpftrace -p PID -e PROGRAM` with one usdt: probe per event, printing each event in
 *              QEMU's own format string; its clock, nsecs(sw_tai), is CLOCK_TAI, converted to
 *              CLOCK_REALTIME with the kernel's TAI offset (adjtimex) read when the tracer starts.
 * Both run under a small watchdog that ends the tracer once its QEMU has gone (SystemTap's --pid
 * does not end by itself) and whose command line names the run's tracer output file, so a dead
 * run's tracer is found by the same scan as its QEMU (processes.ts).
 */
import { TRACER_READY_EVENT } from '../traces/tracer-output.ts';

export type TracerKind = 'systemtap' | 'bpftrace';

export interface TracerSpec {
  kind: TracerKind;
  /** The QEMU binary as the tracer sees it on the host (the SDT notes are read from it). */
  binary: string;
  /** The trace events of the run (the readiness event is added). */
  events: readonly string[];
}

/** What the watchdog's $0 is: the name a reader of `ps` and the leftover scan see. */
export const TRACER_WATCHDOG_NAME = 'vdpa-bench-tracer';

/**
 * $1: tai (bpftrace: append the TAI offset in ns as the program's $1) or - (systemtap); $2: the
 * QEMU pid; $3: the tracer's output file (named here so the process scan finds it); then the
 * tracer's argv. The tracer's output goes to $3; the watchdog exits with the tracer's status.
 */
const WATCHDOG = String.raw`
set -u
mode=$1; pid=$2; out=$3; shift 3
if [ "$mode" = tai ]; then
  case $(uname -m) in x86_64) nr=159 ;; aarch64) nr=171 ;; *) echo "vdpa-bench: cannot read the TAI offset on $(uname -m)" >&2; exit 70 ;; esac
  off=$(perl -e '$t = "\0" x 208; syscall($ARGV[0], $t) >= 0 or die "adjtimex: $!\n"; print unpack("l", substr($t, 160, 4)), "\n"' "$nr") || exit 70
  echo "vdpa-bench: kernel TAI offset $off s: bpftrace's nsecs(sw_tai) minus $off s is CLOCK_REALTIME" >&2
  set -- "$@" "$((off * 1000000000))"
fi
"$@" >> "$out" &
tracer=$!
trap 'kill -INT "$tracer" 2>/dev/null' INT TERM
while kill -0 "$tracer" 2>/dev/null; do
  if ! kill -0 "$pid" 2>/dev/null; then kill -INT "$tracer" 2>/dev/null; break; fi
  sleep 0.2
done
wait "$tracer"
`;

/**
 * Each event the harness traces, in QEMU's trace-events format with bpftrace's conversions (%p as
 * 0x%lx): the line bpftrace prints is the line QEMU's log backend and SystemTap's *-log.stp print.
 */
const BPFTRACE_FORMATS: Readonly<Record<string, { format: string; args: readonly string[] }>> = {
  runstate_set: { format: 'current_run_state %d (%s) new_state %d (%s)', args: ['arg0', 'str(arg1)', 'arg2', 'str(arg3)'] },
  vmstate_downtime_checkpoint: { format: '%s', args: ['str(arg0)'] },
  migration_completion_vm_stop: { format: 'ret %d', args: ['arg0'] },
  vhost_vdpa_suspend: { format: 'dev: 0x%lx', args: ['arg0'] },
  vhost_vdpa_reset_device: { format: 'dev: 0x%lx', args: ['arg0'] },
  vhost_vdpa_set_owner: { format: 'dev: 0x%lx', args: ['arg0'] },
  vhost_vdpa_set_vring_enable_one: { format: 'dev: 0x%lx, idx: %u, enable: %u, r: %d', args: ['arg0', 'arg1', 'arg2', 'arg3'] },
  vhost_vdpa_set_vring_ready: { format: 'dev: 0x%lx, idx: %u, r: %d', args: ['arg0', 'arg1', 'arg2'] },
  vhost_vdpa_add_status: { format: 'dev: 0x%lx status: 0x%x', args: ['arg0', 'arg1'] },
  vhost_vdpa_set_features: { format: 'dev: 0x%lx features: 0x%lx', args: ['arg0', 'arg1'] },
  vhost_vdpa_listener_begin_batch: { format: 'vdpa_shared:0x%lx fd: %d msg_type: %u type: %u', args: ['arg0', 'arg1', 'arg2', 'arg3'] },
  vhost_vdpa_listener_commit: { format: 'vdpa_shared:0x%lx fd: %d msg_type: %u type: %u', args: ['arg0', 'arg1', 'arg2', 'arg3'] },
  // QEMU's line up to size: bpftrace on x86_64 reads usdt arguments arg0–arg5 only, as the
  // first six argument registers ("ERROR: x86_64 doesn't support arg8", then arg7, then arg6, seen
  // in the soft lab's lab VM with bpftrace 0.23); the metrics read size, the sixth
  vhost_vdpa_dma_map: {
    format: 'vdpa_shared:0x%lx fd: %d msg_type: %u asid: %u iova: 0x%lx size: 0x%lx',
    args: ['arg0', 'arg1', 'arg2', 'arg3', 'arg4', 'arg5'],
  },
  vhost_vdpa_net_load_mq: { format: 'vdpa state: 0x%lx current_qpairs: %d', args: ['arg0', 'arg1'] },
  [TRACER_READY_EVENT]: { format: '%s', args: ['str(arg0)'] },
};

/** The events a tracer attaches to: the run's, then the readiness event. */
export function tracerEvents(events: readonly string[]): string[] {
  return [...new Set([...events, TRACER_READY_EVENT])];
}

/** A bpftrace program string for `binary`: one usdt probe per event, CLOCK_REALTIME ns from $1 (the TAI offset in ns). */
export function bpftraceProgram(binary: string, events: readonly string[]): string {
  if (/[\s"\\:]/.test(binary))
    throw new Error(`bpftrace cannot name the QEMU binary ${JSON.stringify(binary)} in a usdt: probe (a space, quote, backslash or colon in the path)`);
  // a pattern (vhost_vdpa_*) stands for the events of it the harness has formats for
  events = [...new Set(events.flatMap((e) => (e.includes('*') ? Object.keys(BPFTRACE_FORMATS).filter((k) => globMatches(e, k)) : [e])))];
  const unknown = events.filter((e) => !BPFTRACE_FORMATS[e]);
  if (unknown.length > 0) {
    throw new Error(
      `trace.tracer bpftrace: the harness knows no format for ${unknown.join(', ')} (it prints each event in QEMU's own format; known: ${Object.keys(BPFTRACE_FORMATS).join(', ')}); use trace.tracer: systemtap, whose qemu-trace-stap reads the formats from the QEMU's tapset`,
    );
  }
  return events
    .map((event) => {
      const { format, args } = BPFTRACE_FORMATS[event];
      return `usdt:${binary}:qemu:${event} { printf("%d@%llu ${event} ${format}\\n", pid, nsecs(sw_tai) - $1, ${args.join(', ')}); }`;
    })
    .join('\n');
}

function globMatches(pattern: string, name: string): boolean {
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`).test(name);
}

/** The tracer's own argv (without the watchdog): what a lab engineer would type. */
export function tracerCommand(spec: TracerSpec, pid: string, outputFile?: string): string[] {
  const events = tracerEvents(spec.events);
  if (spec.kind === 'systemtap') return ['qemu-trace-stap', 'run', '--pid', pid, spec.binary, ...events];
  // -o: the output file in bpftrace's own command line is the leftover scan's marker (processes.ts)
  return ['bpftrace', ...(outputFile ? ['-o', outputFile] : []), '-p', pid, '-e', bpftraceProgram(spec.binary, events)];
}

/** The process the harness starts on the host: the watchdog around the tracer, its output to `outputFile`. */
export function tracerArgv(spec: TracerSpec, pid: string, outputFile: string): string[] {
  return ['bash', '-c', WATCHDOG, TRACER_WATCHDOG_NAME, spec.kind === 'bpftrace' ? 'tai' : '-', pid, outputFile, ...tracerCommand(spec, pid, outputFile)];
}

/** The clock the tracer's lines are on, for the manifest. */
export function tracerClock(kind: TracerKind): string {
  return kind === 'systemtap'
    ? 'CLOCK_REALTIME (SystemTap gettimeofday_ns)'
    : "CLOCK_REALTIME (bpftrace nsecs(sw_tai) minus the kernel's TAI offset, read with adjtimex as the tracer starts)";
}
