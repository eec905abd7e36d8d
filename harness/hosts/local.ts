import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { childStream } from './child-stream.ts';
import type { Duplex } from 'node:stream';
import { execa, type ResultPromise } from 'execa';
import { execaOwnSession } from './own-session.ts';
import {
  CommandError,
  shellJoin,
  toRunResult,
  type HostProcess,
  type HostStream,
  type HostTransport,
  type ProcessExit,
  type RunOptions,
  type RunResult,
  type StartOptions,
} from './transport.ts';

/**
 * Runs commands on this machine. `prefix` lets the netns transport reuse it unchanged
 * (`ip netns exec NAME` in front of every command).
 */
export class LocalTransport implements HostTransport {
  readonly kind: 'local' | 'netns' = 'local';
  constructor(
    readonly hostName: string,
    protected readonly prefix: readonly string[] = [],
  ) {}

  protected wrap(argv: readonly string[]): string[] {
    return [...this.prefix, ...argv];
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const [file, ...args] = this.wrap(argv);
    const result = await (options.foreground ? execa : execaOwnSession)(file, args, {
      input: options.input,
      timeout: options.timeoutMs,
      env: options.env,
      reject: false,
      stripFinalNewline: false,
    });
    const out = toRunResult(result, options.timeoutMs);
    if (out.exitCode !== 0 && !options.allowFailure) throw new CommandError(this.hostName, argv, out);
    return out;
  }

  script(script: string, args: readonly string[] = [], options: RunOptions = {}): Promise<RunResult> {
    return this.run(['bash', '-s', '--', ...args], { ...options, input: script });
  }

  async start(argv: readonly string[], options: StartOptions = {}): Promise<HostProcess> {
    const [file, ...args] = this.wrap(argv);
    for (const f of [options.stdoutFile, options.stderrFile]) if (f) await mkdir(dirname(f), { recursive: true });
    // a session of its own: the terminal's Ctrl-C must not end QEMU before the harness does
    const child = execaOwnSession(file, args, {
      stdin: 'ignore',
      stdout: options.stdoutFile ? { file: options.stdoutFile, append: true } : 'ignore',
      stderr: options.stderrFile ? { file: options.stderrFile, append: true } : 'ignore',
      env: options.env,
      reject: false,
    });
    return await LocalProcess.spawned(child);
  }

  /**
   * A long-lived command with its stdin and stdout (lock holders, responders). Its stdin is a pipe
   * from this process: when the harness dies, even by SIGKILL, the command reads EOF. In a
   * session of its own, so the terminal's Ctrl-C leaves it to the harness to end.
   */
  async stream(argv: readonly string[]): Promise<HostStream> {
    const [file, ...args] = this.wrap(argv);
    const child = execaOwnSession(file, args, { stdin: 'pipe', stdout: 'pipe', stderr: 'ignore', reject: false, buffer: false });
    return childStream(child);
  }

  readFile(path: string): Promise<Buffer> {
    return readFile(path);
  }

  async fetchFile(hostPath: string, localPath: string): Promise<void> {
    if (hostPath === localPath) return;
    await mkdir(dirname(localPath), { recursive: true });
    await copyFile(hostPath, localPath);
  }

  connectUnixSocket(path: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(socket);
      });
      socket.once('error', reject);
    });
  }

  describe(argv: readonly string[]): string {
    return shellJoin(this.wrap(argv));
  }

  async close(): Promise<void> {}
}

class LocalProcess implements HostProcess {
  alive = true;
  readonly exited: Promise<ProcessExit>;
  private constructor(
    private readonly child: ResultPromise,
    readonly pid: number,
  ) {
    this.exited = child.then((r) => {
      this.alive = false;
      return { code: r.exitCode ?? null, signal: r.signal ?? null };
    });
  }

  static spawned(child: ResultPromise): Promise<LocalProcess> {
    return new Promise((resolve, reject) => {
      child.once('spawn', () => resolve(new LocalProcess(child, child.pid!)));
      child.once('error', (error) => reject(error));
    });
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.alive) this.child.kill(signal);
  }
}

/** A host that is a network namespace on this machine (`ip netns exec NAME ...`). */
export class NetnsTransport extends LocalTransport {
  override readonly kind = 'netns' as const;
  constructor(
    hostName: string,
    readonly namespace: string,
  ) {
    super(hostName, ['ip', 'netns', 'exec', namespace]);
  }
}
