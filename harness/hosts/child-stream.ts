/** A long-lived child process as a HostStream: what local, netns and ssh transports share for `stream`. */
import type { Readable, Writable } from 'node:stream';
import type { ResultPromise } from 'execa';
import { bound, type HostStream } from './transport.ts';

/** Waits for the child to start; closing ends its stdin (a process that ends at EOF exits), then kills it after 2 s. */
export async function childStream(child: ResultPromise): Promise<HostStream> {
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  return {
    stdin: child.stdin as Writable,
    stdout: child.stdout as Readable,
    close: async () => {
      child.stdin?.end();
      await Promise.race([child, bound(2_000)]);
      child.kill();
    },
  };
}
