/**
 * A running QEMU as the migration engine and its hooks see it: its files on the host, QMP, its
 * guest's status, its trace file, and how it ends. QemuInstance (instance.ts) is the real one; the
 * engine's unit tests play recorded QEMU behaviour through the same contract
 * (test/helpers/fake-qemu.ts), so block, migrate and record run without QEMU.
 */
import type { HostProcess, HostTransport } from '../hosts/transport.ts';
import type { QmpEvent } from './qmp.ts';
import type { TracerSpec } from './tracer.ts';

export interface QemuFiles {
  qmpSocket: string;
  traceFile: string;
  consoleFile: string;
  stderrFile: string;
}

/** One QEMU to start: its command line, its files, a label for messages and how long QMP may take to greet. */
export interface QemuLaunchRequest {
  argv: readonly string[];
  files: QemuFiles;
  label: string;
  timeoutMs: number;
  /** The dtrace backend: a tracer attached to this QEMU writes its trace (traced.ts). */
  tracer?: TracerRequest;
}

/** What a traced launch adds to a QEMU launch request (composeLaunch builds it; plan prints it). */
export interface TracerRequest {
  spec: TracerSpec;
  /** The tracer's output (one per QEMU process) and its stderr, on the host. */
  outputFile: string;
  stderrFile: string;
  /** QEMU was started with -S: continue it once the tracer is attached. */
  continueAfterAttach: boolean;
  attachTimeoutMs: number;
  /** The log backend writes too (a QEMU built with both): its file follows each migration's trace file. */
  logFileFor?: (traceFile: string) => string;
}

/** QMP as the engine uses it (QmpClient is the real one). */
export interface QmpChannel {
  /** Every event received so far, in order, with QEMU's timestamps. */
  readonly events: readonly QmpEvent[];
  readonly isClosed: boolean;
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** HMP through QMP (`logfile PATH`). */
  hmp(commandLine: string): Promise<string>;
  /** The first event since `sinceIndex` (already received or future) that matches; rejects on timeout or close. */
  waitForEvent(match: (e: QmpEvent) => boolean, timeoutMs: number, what?: string, sinceIndex?: number): Promise<QmpEvent>;
}

/** How long a QEMU took to answer at start-up, ms after the harness asked the host to start it. */
export interface StartupTiming {
  /** performance.now() when the harness asked the host to start it (not recorded: the base of the others). */
  spawnedAt: number;
  /** The QMP socket accepted a connection (over ssh: the local end of the forward, so close to 0). */
  socketAcceptedMs: number | null;
  greetingMs: number | null;
  /** The answer to qmp_capabilities, sent as soon as the socket accepted. */
  firstAnswerMs: number | null;
}

export interface RunningQemu {
  /** The transport of the host it runs on. */
  readonly host: HostTransport;
  /** Its process on that host (fault tests signal it directly). */
  readonly process: HostProcess;
  readonly qmp: QmpChannel;
  readonly files: QemuFiles;
  readonly label: string;
  /** Time (harness clock, ms) from spawn until QMP greeted and negotiated: the QMP blackout at start-up. */
  readonly qmpReadyMs: number;
  /** Spawn → socket accepted, greeting, first answer (harness clock, ms); null where it was not measured. */
  readonly startup: StartupTiming | null;
  /** The file its trace goes to now (rotateTrace moves it). */
  readonly currentTraceFile: string;
  /** The guest's run state (query-status). */
  status(): Promise<string>;
  /** Points the trace output at a new file, so each migration gets its own files. */
  rotateTrace(path: string): Promise<void>;
  /** Asks QEMU to quit, then kills it if it has not exited in time. */
  stop(timeoutMs?: number): Promise<void>;
  kill(): Promise<void>;
  /** The last lines QEMU wrote to its stderr file, joined by " | ". */
  stderrTail(lines?: number): Promise<string>;
  /**
   * A QEMU traced by a tracer (the dtrace backend): writes the capture so far into the current
   * trace file and returns what went wrong with it (lost events, a tracer that died), in the
   * tracer's own words. The log backend's QEMU writes its file itself and has no such step.
   */
  settleTrace?(): Promise<string[]>;
}

/** How the engine starts QEMU: `launch` returns once QMP has greeted (or throws why it did not). */
export interface QemuStarter {
  launch(host: HostTransport, request: QemuLaunchRequest): Promise<RunningQemu>;
}
