/**
 * One QEMU process on a host: started through the host's transport, reached over QMP.
 */
import { bound, type HostProcess, type HostTransport, type ProcessExit } from '../hosts/transport.ts';
import { QmpClient, QmpError } from './qmp.ts';
import type { QemuFiles, QemuLaunchRequest, QemuStarter, RunningQemu, StartupTiming } from './running.ts';

export class QemuStartError extends Error {
  constructor(
    message: string,
    /** QEMU's own last words on stderr (warnings left out), one line; empty when it said nothing. */
    readonly qemuSaid = '',
  ) {
    super(message);
    this.name = 'QemuStartError';
  }
}

/** The lines of a QEMU's stderr that say why it stopped: the last few that are not warnings. */
export function lastWords(stderr: string, lines = 3): string {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/warning:/.test(l))
    .slice(-lines)
    .join(' | ');
}

/** Guest states that mean the guest is dead: never measure a migration of one. */
export const DEAD_GUEST_STATES = new Set(['internal-error', 'guest-panicked', 'shutdown', 'io-error']);

export class QemuInstance implements RunningQemu {
  /** Time (harness clock, ms) from spawn until QMP greeted: the QMP blackout at start-up. */
  qmpReadyMs = 0;
  startup: StartupTiming | null = null;
  currentTraceFile: string;

  readonly host: HostTransport;
  readonly process: HostProcess;
  readonly qmp: QmpClient;
  readonly files: QemuFiles;
  readonly label: string;

  /** Over a started process and its negotiated QMP (launch does both; the engine's unit tests over scripted QEMU). */
  constructor(parts: { host: HostTransport; process: HostProcess; qmp: QmpClient; files: QemuFiles; label: string }) {
    ({ host: this.host, process: this.process, qmp: this.qmp, files: this.files, label: this.label } = parts);
    this.currentTraceFile = parts.files.traceFile;
  }

  /** Starts QEMU on `host` and waits (up to `timeoutMs`) until its QMP socket greets. */
  static async launch(host: HostTransport, { argv, files, label, timeoutMs }: QemuLaunchRequest): Promise<QemuInstance> {
    const started = Date.now();
    const spawned = performance.now();
    const since = (at: number) => Math.round((at - spawned) * 10) / 10;
    const process = await host.start(argv, { stderrFile: files.stderrFile, stdoutFile: files.stderrFile, role: 'qemu' });
    let exitedEarly: ProcessExit | undefined;
    void process.exited.then((exit) => (exitedEarly = exit));
    let lastError: unknown;
    while (Date.now() - started < timeoutMs) {
      if (exitedEarly) break;
      try {
        const socket = await host.connectUnixSocket(files.qmpSocket);
        const accepted = performance.now();
        const qmp = await QmpClient.connect(socket, timeoutMs);
        const instance = new QemuInstance({ host, process, qmp, files, label });
        instance.qmpReadyMs = Date.now() - started;
        instance.startup = {
          spawnedAt: spawned,
          socketAcceptedMs: since(accepted),
          greetingMs: qmp.startup ? since(qmp.startup.greetingAt) : null,
          firstAnswerMs: qmp.startup ? since(qmp.startup.firstAnswerAt) : null,
        };
        return instance;
      } catch (error) {
        lastError = error;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    const stderr = await host.readFile(files.stderrFile).then(
      (b) => b.toString('utf8').trim(),
      () => '',
    );
    await process.kill('SIGKILL');
    const why = exitedEarly
      ? `QEMU exited during start-up (${exitedEarly.signal ? `signal ${exitedEarly.signal}` : `exit ${exitedEarly.code}`})`
      : `QMP did not answer within ${timeoutMs} ms (${(lastError as Error)?.message})`;
    throw new QemuStartError(`${host.hostName}: ${label}: ${why}${stderr ? `:\n  ${stderr.split('\n').slice(-8).join('\n  ')}` : ''}`, lastWords(stderr));
  }

  async status(): Promise<string> {
    const s = await this.qmp.execute<{ status: string }>('query-status');
    return s.status;
  }

  /** Points the trace output at a new file (HMP `logfile`), so each migration gets its own files. */
  async rotateTrace(path: string): Promise<void> {
    const out = await this.qmp.hmp(`logfile ${hmpQuote(path)}`);
    if (out.trim()) throw new Error(`${this.host.hostName}: logfile ${path}: ${out.trim()}`);
    this.currentTraceFile = path;
  }

  /** Asks QEMU to quit, then kills it if it has not exited in time. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.process.alive && !this.qmp.isClosed) {
      await this.qmp.execute('quit', undefined, 2_000).catch(() => undefined);
    }
    // unref'd: a timer left running once QEMU has exited would keep the harness alive that long after a run
    const exited = await Promise.race([this.process.exited.then(() => true), bound(timeoutMs).then(() => false)]);
    if (!exited) {
      await this.process.kill('SIGKILL');
      await Promise.race([this.process.exited, bound(5_000)]);
    }
    this.qmp.close();
  }

  async kill(): Promise<void> {
    await this.process.kill('SIGKILL');
    await Promise.race([this.process.exited, bound(5_000)]);
    this.qmp.close();
  }

  async stderrTail(lines = 5): Promise<string> {
    const text = await this.host.readFile(this.files.stderrFile).then(
      (b) => b.toString('utf8').trim(),
      () => '',
    );
    return text.split('\n').slice(-lines).join(' | ');
  }
}

/** QEMU started for real on the host: what a run gives the engine. */
export const qemuInstances: QemuStarter = { launch: (host, request) => QemuInstance.launch(host, request) };

/** HMP reads a quoted argument with C-style escapes; unquoted, a space would end the path. */
export function hmpQuote(value: string): string {
  const escaped = value.replace(/[\\"\n\r]/g, (c) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r' })[c]!);
  return `"${escaped}"`;
}

export function isQmpError(error: unknown, errorClass?: string): error is QmpError {
  return error instanceof QmpError && (!errorClass || error.errorClass === errorClass);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
