/** Waiting between attempts to reach a host again after its connection dropped. */

/** Waits between reconnect attempts: quick at first (an sshd restart), then every 15 s (a reboot). */
export const RECONNECT_BACKOFF_MS = [500, 1_000, 2_000, 4_000, 8_000, 15_000];

/** "1.5 s", "2 min": a duration in a message. */
export function formatSeconds(ms: number): string {
  return ms % 60_000 === 0 && ms >= 60_000 ? `${ms / 60_000} min` : `${Math.round(ms / 100) / 10} s`;
}

/** Sleeps, but returns at once when the signal aborts (an interrupted run stops waiting). */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
