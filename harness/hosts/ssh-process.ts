/**
 * A process started on a host over ssh (SshTransport.start): the wrapper script that reports its
 * pid and exit status, and the HostProcess that reads them; and how ssh's own failures are told
 * from a remote command's.
 */
import type { Readable } from 'node:stream';
import type { ResultPromise } from 'execa';
import type { HostProcess, ProcessExit } from './transport.ts';

/** What a process needs of its transport: a name for messages and a way to signal it. */
interface ProcessHost {
  readonly hostName: string;
  signal(pid: number, signal: NodeJS.Signals): Promise<void>;
}

/** ssh exits 255 for its own failures; these stderr lines tell them from a remote command's 255. */
export const SSH_FAILURE =
  /^(ssh: |kex_exchange_identification|Connection (closed|timed out|refused|reset)|Permission denied \(|Host key verification failed|.*port \d+: Connection|mux_client_|Control socket connect|ssh_exchange_identification|banner exchange)/m;

export class SshConnectionError extends Error {
  constructor(
    readonly host: string,
    readonly stderr: string,
  ) {
    super(`${host}: ssh could not reach the host: ${stderr.trim().split('\n').slice(-3).join(' | ') || 'no message from ssh'}`);
    this.name = 'SshConnectionError';
  }
}

/**
 * Runs a command in the background on the host and reports its pid, then its exit status.
 * The harness holds the session's stdin open for the life of the process: when the harness or
 * its connection goes away, stdin reaches EOF and the process is terminated, as a local child
 * would be. `set -m` keeps the default SIGINT/SIGQUIT handling in the background job.
 */
export const START_WRAPPER = String.raw`
out=$1 err=$2; shift 2
for f in "$out" "$err"; do [ "$f" = /dev/null ] || mkdir -p -- "$(dirname -- "$f")" || exit 125; done
set -m
"$@" </dev/null >>"$out" 2>>"$err" &
child=$!
echo "pid=$child"
exec 2>/dev/null
{ cat >/dev/null; kill -TERM "$child"; } &
watcher=$!
wait "$child"; status=$?
kill -TERM -- "-$watcher"
echo "exit=$status"
`;

export class SshProcess implements HostProcess {
  alive = true;
  readonly exited: Promise<ProcessExit>;
  private constructor(
    private readonly transport: ProcessHost,
    readonly pid: number,
    lines: AsyncIterator<string>,
    child: ResultPromise,
  ) {
    this.exited = (async () => {
      let exit: ProcessExit = { code: 255, signal: null };
      for (let next = await lines.next(); !next.done; next = await lines.next()) {
        const status = /^exit=(\d+)$/.exec(next.value);
        if (status) exit = exitFromStatus(Number(status[1]));
      }
      await child;
      this.alive = false;
      return exit;
    })();
  }

  static async started(transport: ProcessHost, child: ResultPromise): Promise<SshProcess> {
    const lines = readLines(child.stdout as Readable);
    const stderr: string[] = [];
    child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString('utf8')));
    const first = await lines.next();
    const pid = !first.done ? /^pid=(\d+)$/.exec(first.value)?.[1] : undefined;
    if (!pid) {
      const result = await child;
      const text = stderr.join('');
      if (result.exitCode === 255 && SSH_FAILURE.test(text)) throw new SshConnectionError(transport.hostName, text);
      throw new Error(`${transport.hostName}: could not start the process (exit ${result.exitCode}): ${text.trim() || 'no output'}`);
    }
    return new SshProcess(transport, Number(pid), lines, child);
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.alive) await this.transport.signal(this.pid, signal);
  }
}

/** bash reports a process killed by signal N as status 128+N. */
export function exitFromStatus(status: number): ProcessExit {
  if (status > 128 && status < 128 + 65) {
    const name = SIGNAL_NAMES[status - 128];
    if (name) return { code: null, signal: name };
  }
  return { code: status, signal: null };
}

const SIGNAL_NAMES: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  4: 'SIGILL',
  6: 'SIGABRT',
  7: 'SIGBUS',
  8: 'SIGFPE',
  9: 'SIGKILL',
  10: 'SIGUSR1',
  11: 'SIGSEGV',
  12: 'SIGUSR2',
  13: 'SIGPIPE',
  14: 'SIGALRM',
  15: 'SIGTERM',
};

async function* readLines(stream: Readable): AsyncGenerator<string> {
  let buffered = '';
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    buffered += chunk.toString('utf8');
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
  if (buffered) yield buffered;
}
