/**
 * What a dtrace-backend tracer's own output says besides trace lines (pure, no I/O): that it is
 * attached to a QEMU (the readiness event, fired on demand over QMP), and that it lost events.
 * A tracer that lost events writes a trace that looks complete but is not: its migration must be
 * invalid with the tracer's own words, never a silently short downtime.
 *   bpftrace (src/output.cpp, TextOutput::lost_events, on stdout): `Lost 12 events`
 *   SystemTap (staprun, on stderr at exit): `WARNING: Number of errors: 0, skipped probes: 3`,
 *   `WARNING: There were 5 transport failures.`, `ERROR: ...`
 */

/**
 * QEMU's QMP command tracing (`qmp_enter_<command>`, every build since 6.2): the harness sends
 * `query-name` until the tracer prints this event from the process, which proves the tracer's
 * probes fire in that process before the guest may run.
 */
export const TRACER_READY_EVENT = 'qmp_enter_query_name';

const LOSS_PATTERNS: readonly RegExp[] = [
  /^Lost \d+ events?\b.*$/m,
  /^WARNING: Number of errors: \d+, skipped probes: [1-9]\d*.*$/m,
  /^WARNING: Number of errors: [1-9]\d*, skipped probes: \d+.*$/m,
  /^WARNING: There were \d+ transport failures.*$/m,
  /^WARNING: .*(?:overflow|dropped|lost).*$/im,
  /^ERROR: .*$/m,
];

/** The tracer's own messages that say events were lost or the trace is broken, verbatim, in order of appearance. */
export function tracerLossMessages(stdout: string, stderr: string): string[] {
  const found: { at: number; text: string }[] = [];
  for (const [source, text] of [
    ['stdout', stdout],
    ['stderr', stderr],
  ] as const) {
    for (const pattern of LOSS_PATTERNS) {
      const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
      for (const m of text.matchAll(global)) {
        const line = m[0].trim();
        if (!found.some((f) => f.text === line)) found.push({ at: (source === 'stdout' ? 0 : 1e15) + (m.index ?? 0), text: line });
      }
    }
  }
  return found.sort((a, b) => a.at - b.at).map((f) => f.text);
}

/** Whether the tracer has printed the readiness event from process `pid` (in the `PID@NANOSECONDS event` format). */
export function tracerReady(stdout: string, pid: number): boolean {
  return new RegExp(`^${pid}@\\d+ ${TRACER_READY_EVENT}\\b`, 'm').test(stdout);
}

/** The whole lines of `text` from byte `start` on: a line the tracer is still writing is left for the next cut. */
export function completeLines(text: Buffer, start: number): { lines: Buffer; end: number } {
  const last = text.lastIndexOf(0x0a);
  const end = last < start ? start : last + 1;
  return { lines: text.subarray(start, end), end };
}
