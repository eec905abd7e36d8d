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
  close(): Promise<void>;
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
export function toRunResult(result: { exitCode?: number; timedOut?: boolean; failed?: boolean; stdout?: unknown; stderr?: unknown; message?: string }, timeoutMs?: number): RunResult {
  const out: RunResult = {
    exitCode: result.exitCode ?? (result.timedOut ? 124 : 128),
    stdout: String(result.stdout ?? ''),
    stderr: result.timedOut ? `timed out after ${timeoutMs} ms\n${result.stderr ?? ''}` : String(result.stderr ?? ''),
  };
  if (result.failed && result.exitCode === undefined && !result.timedOut) out.stderr = String(result.message ?? 'failed to start');
  return out;
}
