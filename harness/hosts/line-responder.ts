/**
 * A long-lived process on a host that answers each request line with one line, kept open on the
 * transport's connection (for ssh: a session on the master connection) for as long as the
 * transport lives, and reopened when it ends. The clock estimate uses it so that a sample costs
 * one round trip on an open channel instead of a channel set-up (or a whole ssh exec) per read;
 * any other request/response exchange with a host (a lock holder, a watcher) fits the same shape.
 */
import type { HostStream, HostTransport } from './transport.ts';

export interface Exchange {
  answer: string;
  /** Harness clock (µs) when the request was written and when its answer arrived. */
  sentUs: number;
  receivedUs: number;
}

/** The harness's wall clock with sub-µs resolution (Date.now() has only ms). */
export function harnessNowUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

export class LineResponder {
  private stream?: Promise<HostStream>;
  private buffered = '';
  private ended = false;
  private wake?: () => void;
  /** One request at a time: answers carry no id, so they must not interleave. */
  private queue: Promise<unknown> = Promise.resolve();
  /** How many times the remote process was started (1 while it stays up). */
  starts = 0;

  constructor(
    readonly host: HostTransport,
    readonly argv: readonly string[],
    private readonly timeoutMs = 10_000,
  ) {}

  private open(): Promise<HostStream> {
    if (this.stream && !this.ended) return this.stream;
    if (!this.host.stream) return Promise.reject(new Error(`${this.host.hostName}: the ${this.host.kind} transport cannot keep a process open`));
    this.buffered = '';
    this.ended = false;
    this.starts++;
    const opening = this.host.stream(this.argv).then((s) => {
      s.stdout.on('data', (chunk: Buffer) => {
        this.buffered += chunk.toString('utf8');
        this.wake?.();
      });
      const end = () => {
        this.ended = true;
        this.wake?.();
      };
      s.stdout.on('end', end);
      s.stdout.on('error', end);
      s.stdin.on('error', end);
      return s;
    });
    this.stream = opening;
    opening.catch(() => {
      if (this.stream === opening) this.stream = undefined;
    });
    return opening;
  }

  /** Sends one line (no newline inside) and resolves with the next line the process prints. */
  request(line = ''): Promise<Exchange> {
    if (line.includes('\n')) return Promise.reject(new Error('a request is one line'));
    const next = this.queue.then(() => this.exchange(line));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async exchange(line: string): Promise<Exchange> {
    const stream = await this.open();
    this.buffered = '';
    const sentUs = harnessNowUs();
    stream.stdin.write(`${line}\n`);
    const answer = await this.nextLine();
    return { answer, sentUs, receivedUs: harnessNowUs() };
  }

  private async nextLine(): Promise<string> {
    const limit = Date.now() + this.timeoutMs;
    for (;;) {
      const newline = this.buffered.indexOf('\n');
      if (newline >= 0) {
        const answer = this.buffered.slice(0, newline);
        this.buffered = this.buffered.slice(newline + 1);
        return answer;
      }
      if (this.ended) throw new Error(`${this.host.hostName}: ${this.argv[0]} ended without an answer`);
      const left = limit - Date.now();
      if (left <= 0) {
        // a process that stopped answering is not asked again: the next request starts a new one
        await this.close();
        throw new Error(`${this.host.hostName}: ${this.argv[0]} did not answer within ${this.timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  async close(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    this.ended = true;
    await stream?.then((s) => s.close()).catch(() => undefined);
  }
}

/**
 * One responder per transport and command, kept for the transport's life: the second estimate
 * of a run reuses the first one's process. The transport closing ends it with its sessions.
 */
const responders = new WeakMap<HostTransport, Map<string, LineResponder>>();

export function persistentResponder(host: HostTransport, argv: readonly string[], timeoutMs?: number): LineResponder {
  let byCommand = responders.get(host);
  if (!byCommand) responders.set(host, (byCommand = new Map()));
  const key = JSON.stringify(argv);
  let responder = byCommand.get(key);
  if (!responder) byCommand.set(key, (responder = new LineResponder(host, argv, timeoutMs)));
  return responder;
}
