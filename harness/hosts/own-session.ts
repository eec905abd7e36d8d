/**
 * Children of the harness in a session of their own (setsid, execa's `detached`). A terminal's
 * Ctrl-C signals its whole foreground process group: a lock holder, a QEMU, an ssh session
 * carrying either, or a command a hook is waiting on would die at the very moment the harness
 * begins its clean-up, and the harness would take their deaths for lost connections, failed
 * migrations or a damaged guest. In their own session only the harness hears the terminal, and
 * it ends them itself, in order (session.ts).
 *
 * What execa's `cleanup` does for children in the harness's group is done here for these: when
 * the harness exits (a second Ctrl-C forces `process.exit`), each one still running gets
 * SIGTERM. A harness killed outright (SIGKILL) runs no exit handler: its lock holders end at
 * stdin EOF as before, and its QEMU is ended by the next run through the ownership proof
 * (run/ownership.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { execa, type Options, type ResultPromise } from 'execa';

const running = new Set<ChildProcess>();
let exitHooked = false;

function endAllOnExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGTERM');
  });
}

/** execa, with the child in a new session: the terminal's signals do not reach it; the harness's exit ends it. */
export function execaOwnSession<O extends Options>(file: string, args: readonly string[], options: O): ResultPromise<O> {
  endAllOnExit();
  const subprocess = execa(file, args, { ...options, detached: true } as O);
  // execa's subprocess is a ChildProcess underneath; its typings hide the events
  const child = subprocess as unknown as ChildProcess;
  running.add(child);
  const forget = () => running.delete(child);
  child.once('exit', forget);
  child.once('error', forget);
  return subprocess as unknown as ResultPromise<O>;
}
