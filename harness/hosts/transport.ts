/**
 * Everything that touches a lab host goes through a HostTransport: local, ssh or a network
 * namespace. Commands are argument arrays, never shell strings built from profile values.
 */
import type { Duplex, Readable, Writable } from 'node:stream';

export interface RunOptions {
  /** Written to the command's standard input (how scripts reach `bash -s`). */
  input?: string | Buffer;
  timeoutMs?: number;
  /** Resolve with the exit code instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  env?: Record<string, string>;
  /**
   * Run in the harness's own process group, where the terminal's Ctrl-C reaches it too: long
   * work the user may want to stop (builds). Every other command runs in a session of its own
   * (own-session.ts), so that only the harness decides when it ends.
   */
  foreground?: boolean;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface StartOptions {
  /** Host paths the process's output goes to. */
  stdoutFile?: string;
  stderrFile?: string;
  env?: Record<string, string>;
  /** What the process is for (`qemu`, `prober`), for the run's list of started processes. */
  role?: string;
}

export interface ProcessExit {
  code: number | null;
  signal: string | null;
}

export interface HostProcess {
  /** pid on the host (for ssh, the remote pid). */
  readonly pid: number;
  readonly exited: Promise<ProcessExit>;
  readonly alive: boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A long-lived command's stdin and stdout, for request/response exchanges (clock probes). */
export interface HostStream {
  readonly stdin: Writable;
  readonly stdout: Readable;
  close(): Promise<void>;
}

export interface HostTransport {
  readonly hostName: string;
  readonly kind: 'local' | 'ssh' | 'netns';
  /**
   * Commands run as root through sudo for a non-root login (ssh `sudo: true`): what the login
   * user itself must reach (sshd connects forwarded sockets as that user) needs a place of its own.
   */
  readonly sudo?: boolean;
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Runs a bash script fed on stdin (`bash -s -- args...`): arguments arrive as "$1"... unparsed. */
  script(script: string, args?: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Starts a long-running process (QEMU); returns once it has been spawned. */
  start(argv: readonly string[], options?: StartOptions): Promise<HostProcess>;
  readFile(path: string): Promise<Buffer>;
  /** Copies a host file into the harness's own filesystem. */
  fetchFile(hostPath: string, localPath: string): Promise<void>;
  connectUnixSocket(path: string): Promise<Duplex>;
  /** Transports to other machines offer this so their clock can be probed (see clock.ts). */
  stream?(argv: readonly string[]): Promise<HostStream>;
  /** How this host would run argv, for `plan` output (shell-quoted, not executed). */
  describe(argv: readonly string[]): string;
  /**
   * Transports over a connection that can drop (ssh): whether the connection they have been
   * using is gone (null: still up). Everything started or forwarded over a lost connection
   * (QEMU's QMP sockets, its launch sessions) is gone with it.
   */
  connectionLost?(): Promise<ConnectionLoss | null>;
  /**
   * Re-establishes a lost connection, retrying with backoff until `timeoutMs` after the loss;
   * throws HostUnreachableError when the host did not come back in time (after which every
   * command fails at once with that error, so a run stops without waiting on each).
   */
  reconnect?(timeoutMs: number, options?: ReconnectOptions): Promise<Reconnected>;
  close(): Promise<void>;
}

export interface ConnectionLoss {
  /** When the harness first saw the connection gone. */
  since: Date;
  /** Which connection, in the user's terms (e.g. `ssh root@lab1 port 22`). */
  connection: string;
  detail: string;
}

export interface ReconnectOptions {
  /** Told about each failed attempt (for the run's log). */
  onRetry?: (message: string) => void;
  /** Stops waiting (the run is being interrupted). */
  signal?: AbortSignal;
}

export interface Reconnected {
  since: Date;
  attempts: number;
  /** From the loss being seen to the connection being back. */
  downMs: number;
}

/** A host that stayed unreachable past the reconnect timeout: the run cannot go on. */
export class HostUnreachableError extends Error {
  constructor(
    readonly host: string,
    readonly since: Date,
    readonly detail: string,
  ) {
    super(`${host}: unreachable since ${since.toISOString()}: ${detail}`);
    this.name = 'HostUnreachableError';
  }

  /** The results directory of the run it stopped (set by the run, for the user's next steps). */
  runDir?: string;
  /** Other hosts of the pair that did not come back either (named in the message too). */
  alsoUnreachable: string[] = [];

  /** This error naming other hosts that stayed away as well. */
  withOthers(others: readonly HostUnreachableError[]): HostUnreachableError {
    if (others.length === 0) return this;
    const combined = new HostUnreachableError(
      this.host,
      this.since,
      `${this.detail}; also unreachable: ${others.map((o) => `${o.host} since ${o.since.toISOString()}`).join(', ')}`,
    );
    combined.alsoUnreachable = others.map((o) => o.host);
    return combined;
  }
}

export class CommandError extends Error {
  constructor(
    readonly host: string,
    readonly argv: readonly string[],
    readonly result: RunResult,
  ) {
    const stderr = result.stderr.trim().split('\n').slice(-5).join('\n  ');
    super(`${host}: \`${argv.join(' ')}\` exited with ${result.exitCode}${stderr ? `:\n  ${stderr}` : ''}`);
    this.name = 'CommandError';
  }
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** POSIX shell quoting: the result is one word for any string, including newlines and quotes. */
export function shellQuote(word: string): string {
  if (word !== '' && SAFE.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/** An execa result as a RunResult: a timeout says so, a spawn failure (ENOENT) says why. */
export function toRunResult(
  result: { exitCode?: number; timedOut?: boolean; failed?: boolean; stdout?: unknown; stderr?: unknown; message?: string },
  timeoutMs?: number,
): RunResult {
  const out: RunResult = {
    exitCode: result.exitCode ?? (result.timedOut ? 124 : 128),
    stdout: String(result.stdout ?? ''),
    stderr: result.timedOut ? `timed out after ${timeoutMs} ms\n${result.stderr ?? ''}` : String(result.stderr ?? ''),
  };
  if (result.failed && result.exitCode === undefined && !result.timedOut) out.stderr = String(result.message ?? 'failed to start');
  return out;
}

/** A time limit for Promise.race that does not keep the process alive once the race is decided. */
export function bound(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
