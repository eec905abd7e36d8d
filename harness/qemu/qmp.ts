/**
 * A QMP client of our own: greeting and capability negotiation, command ids, error replies as
 * typed errors, asynchronous events with QEMU's own timestamps, and timeouts on everything.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  /** QEMU's timestamp (the host's wall clock), µs since the epoch. */
  timeUs: number;
}

export interface QmpGreeting {
  version: { qemu: { major: number; minor: number; micro: number }; package: string };
  capabilities: string[];
}

/** One line QEMU writes on the QMP socket: a greeting, an event or a reply to a command. */
interface QmpMessage {
  QMP?: QmpGreeting;
  event?: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
  id?: unknown;
  return?: unknown;
  error?: { class: string; desc: string };
}

export class QmpError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command}: ${errorClass}: ${desc}`);
    this.name = 'QmpError';
  }
}

export class QmpTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`QMP: no ${what} within ${ms} ms`);
    this.name = 'QmpTimeoutError';
  }
}

export class QmpClosedError extends Error {
  constructor(what: string) {
    super(`QMP connection closed while waiting for ${what} (QEMU exited?)`);
    this.name = 'QmpClosedError';
  }
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class QmpClient extends EventEmitter {
  readonly events: QmpEvent[] = [];
  greeting?: QmpGreeting;
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private greetingWaiter?: (g: QmpGreeting) => void;
  private closed = false;

  private constructor(
    private readonly socket: Duplex,
    readonly defaultTimeoutMs: number,
  ) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => this.onClose());
    socket.on('error', () => this.onClose());
  }

  /**
   * Reads the greeting and leaves capability negotiation mode. The first command (qmp_capabilities)
   * goes out as soon as the socket is connected, not after the greeting: QEMU keeps it in the socket
   * until its main loop serves the monitor, so its answer time is when QEMU first answers QMP, and
   * `startup` says when the greeting and that answer came (by `now`, the caller's clock).
   */
  static async connect(socket: Duplex, defaultTimeoutMs = 30_000, now: () => number = () => performance.now()): Promise<QmpClient> {
    const client = new QmpClient(socket, defaultTimeoutMs);
    let greetingAt = Number.NaN;
    const greeted = client.withTimeout(new Promise<QmpGreeting>((resolve) => (client.greetingWaiter = resolve)), 'greeting', defaultTimeoutMs);
    void greeted.then(
      () => (greetingAt = now()),
      () => undefined,
    );
    const answered = client.execute('qmp_capabilities').then(() => now());
    answered.catch(() => undefined);
    client.greeting = await greeted;
    const firstAnswerAt = await answered;
    client.startup = { greetingAt: Number.isNaN(greetingAt) ? firstAnswerAt : greetingAt, firstAnswerAt };
    return client;
  }

  /** When the greeting and the answer to the first command came (connect's `now` clock). */
  startup?: { greetingAt: number; firstAnswerAt: number };

  get isClosed(): boolean {
    return this.closed;
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = this.defaultTimeoutMs): Promise<T> {
    if (this.closed) return Promise.reject(new QmpClosedError(command));
    const id = `vb-${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpTimeoutError(`reply to ${command}`, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id }) + '\n');
    });
  }

  /** HMP through QMP (e.g. `logfile PATH`, which reopens the trace file). */
  async hmp(commandLine: string): Promise<string> {
    const out = await this.execute<string>('human-monitor-command', { 'command-line': commandLine });
    return out ?? '';
  }

  /**
   * Resolves with the first event (already received since `sinceIndex`, or future) that matches.
   * Rejects on timeout or when the connection closes.
   */
  waitForEvent(match: (e: QmpEvent) => boolean, timeoutMs: number, what = 'event', sinceIndex = 0): Promise<QmpEvent> {
    const seen = this.events.slice(sinceIndex).find(match);
    if (seen) return Promise.resolve(seen);
    if (this.closed) return Promise.reject(new QmpClosedError(what));
    return new Promise<QmpEvent>((resolve, reject) => {
      const onEvent = (e: QmpEvent) => {
        if (!match(e)) return;
        cleanup();
        resolve(e);
      };
      const onClose = () => {
        cleanup();
        reject(new QmpClosedError(what));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new QmpTimeoutError(what, timeoutMs));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      this.on('event', onEvent);
      this.once('close', onClose);
    });
  }

  close(): void {
    if (!this.closed) this.socket.destroy();
    this.onClose();
  }

  private withTimeout<T>(promise: Promise<T>, what: string, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new QmpTimeoutError(what, ms)), ms);
      const onClose = () => reject(new QmpClosedError(what));
      this.once('close', onClose);
      promise.then(
        (v) => {
          clearTimeout(timer);
          this.off('close', onClose);
          resolve(v);
        },
        (e) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) !== -1) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let message: QmpMessage;
    try {
      message = JSON.parse(line) as QmpMessage;
    } catch {
      return; // QEMU never sends partial JSON per line; ignore noise rather than die mid-run
    }
    if (message.QMP) {
      this.greetingWaiter?.(message.QMP);
      return;
    }
    if (message.event) {
      const ts = message.timestamp ?? { seconds: 0, microseconds: 0 };
      const event: QmpEvent = { event: message.event, data: message.data, timeUs: ts.seconds * 1e6 + ts.microseconds };
      this.events.push(event);
      this.emit('event', event);
      return;
    }
    const pending = message.id !== undefined ? this.pending.get(String(message.id)) : undefined;
    if (!pending) return;
    this.pending.delete(String(message.id));
    clearTimeout(pending.timer);
    if (message.error) pending.reject(new QmpError(pending.command, message.error.class, message.error.desc));
    else pending.resolve(message.return);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new QmpClosedError(`reply to ${p.command}`));
      this.pending.delete(id);
    }
    this.emit('close');
  }
}
