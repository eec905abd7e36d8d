/**
 * A transport that tells what it starts: every command run, script fed to `bash -s`, process
 * started and stream opened on its host, with the exact argv the host's transport was given and
 * how that transport runs it. The run wraps each host's transport in one, so its run directory
 * lists every process it started on every host (argv.ndjson).
 */
import { createHash } from 'node:crypto';
import type { StartedCommand } from '../results/argv-log.ts';
import type { HostTransport, RunOptions, StartOptions } from './transport.ts';

export type { StartedCommand };
type StartedVia = StartedCommand['via'];

export type StartedSink = (command: StartedCommand) => void;

function stdinOf(input: string | Buffer | undefined): StartedCommand['stdin'] {
  if (input === undefined) return undefined;
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  return { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** `inner` with every start reported to `sink` first; everything else (files, sockets, reconnects) passes through unchanged. */
export function recordingTransport(inner: HostTransport, sink: StartedSink): HostTransport {
  const tell = (via: StartedVia, argv: readonly string[], extra: { input?: string | Buffer; role?: string } = {}) => {
    const stdin = stdinOf(extra.input);
    sink({
      host: inner.hostName,
      transport: inner.kind,
      via,
      role: extra.role ?? via,
      argv: [...argv],
      shown: inner.describe(argv),
      ...(stdin ? { stdin } : {}),
      startedAt: new Date().toISOString(),
    });
  };
  const overrides: Partial<HostTransport> = {
    run: (argv: readonly string[], options?: RunOptions) => {
      tell('run', argv, { input: options?.input });
      return inner.run(argv, options);
    },
    script: (script: string, args: readonly string[] = [], options?: RunOptions) => {
      tell('script', ['bash', '-s', '--', ...args], { input: script });
      return inner.script(script, args, options);
    },
    start: (argv: readonly string[], options?: StartOptions) => {
      tell('start', argv, { role: options?.role });
      return inner.start(argv, options);
    },
    ...(inner.stream
      ? {
          stream: (argv: readonly string[]) => {
            tell('stream', argv);
            return inner.stream!(argv);
          },
        }
      : {}),
  };
  return new Proxy(inner, {
    get(target, property) {
      if (Object.prototype.hasOwnProperty.call(overrides, property)) return overrides[property as keyof HostTransport];
      // the transport's own methods run on itself: a script it runs as a command is told once
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
