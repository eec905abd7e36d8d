/**
 * A long-lived process on a host that the harness talks to line by line: requests on its stdin,
 * answers on its stdout. It runs through the host's transport (`stream`): on an ssh host as a
 * session of the master connection, locally and in a namespace as a child whose stdin is a pipe
 * from the harness. Either way its stdin reaches EOF when the harness dies (even by SIGKILL) or
 * the connection drops, so a process that ends at EOF never outlives the run that started it.
 *
 * General on purpose: the lab lock holder uses it; a clock responder or any other helper that
 * must live exactly as long as the harness can too.
 */
import type { HostTransport } from './transport.ts';

export interface HostSession {
  /** The next line the process printed; rejects when it ended first or `timeoutMs` passed. */
  nextLine(timeoutMs: number): Promise<string>;
  /** Writes one line to its stdin. */
  send(line: string): void;
  /** Resolves once its stdout closed: the process (or the connection carrying it) is gone. */
  readonly ended: Promise<void>;
  /** Closes its stdin (a process that ends at EOF then exits) and waits briefly for it. */
  close(): Promise<void>;
}

export async function openSession(host: HostTransport, argv: readonly string[]): Promise<HostSession> {
  if (!host.stream) throw new Error(`${host.hostName}: the ${host.kind} transport cannot keep a process running with the harness`);
  const stream = await host.stream(argv);
  let buffered = '';
  let done = false;
  let wake: (() => void) | undefined;
  let endedResolve!: () => void;
  const ended = new Promise<void>((resolve) => (endedResolve = resolve));
  stream.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    wake?.();
  });
  const finish = () => {
    done = true;
    endedResolve();
    wake?.();
  };
  stream.stdout.once('end', finish);
  stream.stdout.once('close', finish);
  stream.stdout.once('error', finish);
  // a write after the process died must not crash the harness (EPIPE)
  stream.stdin.on('error', () => undefined);
  return {
    async nextLine(timeoutMs: number): Promise<string> {
      const limit = Date.now() + timeoutMs;
      for (;;) {
        const newline = buffered.indexOf('\n');
        if (newline >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          return line;
        }
        if (done)
          throw new Error(
            `${host.hostName}: the process ended${buffered ? ` after printing ${JSON.stringify(buffered.slice(0, 200))}` : ' without an answer'}`,
          );
        const left = limit - Date.now();
        if (left <= 0) throw new Error(`${host.hostName}: no answer within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    },
    send(line: string) {
      if (!done) stream.stdin.write(`${line}\n`);
    },
    ended,
    close: () => stream.close(),
  };
}
