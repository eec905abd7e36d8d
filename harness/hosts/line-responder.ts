/**
 * A long-lived process on a host that answers each request line with one line, kept open on the
 * transport's connection (for ssh: a session on the master connection) for as long as the
 * transport lives, and reopened when it ends. The clock estimate uses it so that a sample costs
 * one round trip on an open channel instead of a channel set-up (or a whole ssh exec) per read;
 * any other request/response exchange with a host (a lock holder, a watcher) fits the same shape.
 */
import { openSession, type HostSession } from './line-session.ts';
import type { HostTransport } from './transport.ts';

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

/** A line session (line-session.ts) that answers requests one at a time and is reopened when it ends. */
export class LineResponder {
  private session?: Promise<HostSession>;
  private ended = true;
  /** One request at a time: answers carry no id, so they must not interleave. */
  private queue: Promise<unknown> = Promise.resolve();
  /** How many times the remote process was started (1 while it stays up). */
  starts = 0;

  constructor(
    readonly host: HostTransport,
    readonly argv: readonly string[],
    private readonly timeoutMs = 10_000,
  ) {}

  private open(): Promise<HostSession> {
    if (this.session && !this.ended) return this.session;
    this.ended = false;
    this.starts++;
    const opening = openSession(this.host, this.argv);
    opening.then(
      (s) => void s.ended.then(() => (this.ended = true)),
      () => undefined,
    );
    this.session = opening;
    opening.catch(() => {
      if (this.session === opening) this.session = undefined;
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
    const session = await this.open();
    const sentUs = harnessNowUs();
    session.send(line);
    try {
      const answer = await session.nextLine(this.timeoutMs);
      return { answer, sentUs, receivedUs: harnessNowUs() };
    } catch (error) {
      // a process that stopped answering is not asked again: the next request starts a new one
      await this.close();
      throw new Error(`${this.host.hostName}: ${this.argv[0]}: ${(error as Error).message.replace(`${this.host.hostName}: `, '')}`);
    }
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    this.ended = true;
    await session?.then((s) => s.close()).catch(() => undefined);
  }
}

/**
 * One responder per transport and command, kept for the transport's life: the second estimate
 * of a run reuses the first one's process. The transport closing ends it with its sessions.
 */
const responders = new WeakMap<HostTransport, Map<string, LineResponder>>();

export function persistentResponder(host: HostTransport, argv: readonly string[], timeoutMs?: number): LineResponder {
  let byCommand = responders.get(host);
  if (!byCommand) responders.set(host, (byCommand = new Map<string, LineResponder>()));
  const key = JSON.stringify(argv);
  let responder = byCommand.get(key);
  if (!responder) byCommand.set(key, (responder = new LineResponder(host, argv, timeoutMs)));
  return responder;
}
