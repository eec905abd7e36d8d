/**
 * A zx `$` whose commands run on a lab host through its transport: over the ssh master, in the
 * network namespace, or here. zx quotes every interpolated value itself (bash ANSI-C quoting);
 * the finished command text is handed to `bash -c` on the host as one argument (over ssh,
 * POSIX-quoted once more by the transport), so values arrive as data, never as shell text.
 *
 * zx 8 takes the process to run from a `spawn` option: ours returns a child-process-like object
 * fed by transport.run(). Its output is delivered when the command ends (no streaming) and it
 * reads no stdin.
 */
import { EventEmitter } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { $, type Shell } from 'zx';
import type { HostTransport } from './transport.ts';

export type HostShell = Shell;

const COMMAND_TIMEOUT_MS = 10 * 60_000;

function transportSpawn(host: HostTransport) {
  return (command: string) => {
    const child = Object.assign(new EventEmitter(), {
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      stdin: new Writable({ write: (_chunk, _encoding, done) => done() }),
      pid: undefined as number | undefined,
      kill: () => false,
    });
    void host.run(['bash', '-c', command], { allowFailure: true, timeoutMs: COMMAND_TIMEOUT_MS }).then(
      (result) => {
        child.stdout.end(result.stdout);
        child.stderr.end(result.stderr);
        child.emit('exit', result.exitCode, null);
        child.emit('close', result.exitCode, null);
      },
      (error: Error) => {
        child.stdout.end();
        child.stderr.end();
        child.emit('error', error);
        child.emit('close', null, null);
      },
    );
    return child;
  };
}

/** `$` for one host: `await $\`cat ${path}\`` runs `cat` there with `path` quoted by zx. */
export function zxFor(host: HostTransport): HostShell {
  // zx's typings want node's spawn; ours honours the part zx uses (command text, streams, close)
  return $({ spawn: transportSpawn(host) as unknown as typeof import('node:child_process').spawn, shell: 'bash', quiet: true, verbose: false, env: {} });
}
