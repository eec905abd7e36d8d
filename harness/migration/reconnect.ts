/**
 * A host connection that drops mid-run (ssh: sshd restarted, host rebooted, link down). What
 * ran over it is gone: QMP sockets, QEMU's launch sessions, so the migration in flight is lost.
 * The engine names the loss in that migration's record, waits (bounded) for the host to come
 * back, ends the QEMU processes of this run that outlived the connection there, and goes on
 * with a fresh pair; a host that stays away stops the run (HostUnreachableError).
 */
import { HostUnreachableError, type ConnectionLoss } from '../hosts/transport.ts';
import type { EngineHost } from './interfaces.ts';

export interface LostHost {
  host: EngineHost;
  loss: ConnectionLoss;
}

/** The hosts whose connection went away (transports that cannot lose one never appear). */
export async function lostConnections(hosts: readonly EngineHost[]): Promise<LostHost[]> {
  const checked = await Promise.all(hosts.map(async (host) => ({ host, loss: (await host.transport.connectionLost?.().catch(() => null)) ?? null })));
  return checked.filter((c): c is LostHost => c.loss !== null);
}

/** "lost the connection to hostB (ssh root@lab2 port 22: the master connection closed, at …)" */
export function describeLoss(lost: readonly LostHost[]): string {
  return lost.map((l) => `lost the connection to ${l.host.name} (${l.loss.connection}: ${l.loss.detail}, at ${l.loss.since.toISOString()})`).join('; ');
}

/**
 * Brings every lost host back (in parallel, each within `timeoutMs` of its loss) and ends this
 * run's QEMU processes left there. Returns the first host that did not come back, if any.
 */
export async function restoreConnections(lost: readonly LostHost[], timeoutMs: number, note: (message: string) => void, signal?: AbortSignal): Promise<HostUnreachableError | undefined> {
  const outcomes = await Promise.allSettled(
    lost.map(async ({ host }) => {
      const back = await host.transport.reconnect!(timeoutMs, { onRetry: note, signal });
      note(`${host.name}: connection back after ${(back.downMs / 1000).toFixed(1)} s (${back.attempts} attempt${back.attempts === 1 ? '' : 's'})`);
      // not fatal: the run goes on, and the note tells the user to look for a stray QEMU on that host
      const ended = await endOrphanedQemu(host).catch((error: Error) => {
        note(`${host.name}: could not look for QEMU processes of this run that outlived the connection (look for QEMU with ${host.runDir}/sock/ in its command line): ${error.message}`);
        return [];
      });
      if (ended.length > 0) note(`${host.name}: ended ${ended.length} QEMU process${ended.length === 1 ? '' : 'es'} of this run that outlived the connection (pid ${ended.join(', ')})`);
    }),
  );
  const unreachable: HostUnreachableError[] = [];
  for (const outcome of outcomes) {
    if (outcome.status === 'fulfilled') continue;
    if (!(outcome.reason instanceof HostUnreachableError)) throw outcome.reason;
    unreachable.push(outcome.reason);
  }
  return unreachable[0]?.withOthers(unreachable.slice(1));
}

// Our uid's processes whose program is a QEMU and whose command line points into this run's
// socket directory: after a drop the harness holds no QMP connection to any of them, so every
// one is an orphan. The marker arrives as "$1" (data); this script's own command line holds it
// too, which the program-name check rules out.
const END_ORPHANS_SCRIPT = String.raw`
set -u
marker=$1
uid=$(id -u)
pids=
for f in $(grep -lzF -- "$marker" /proc/[0-9]*/cmdline 2>/dev/null); do
  d=$(dirname -- "$f"); pid=$(basename -- "$d")
  [ "$(stat -c %u "$d" 2>/dev/null)" = "$uid" ] || continue
  argv0=$(head -zn1 "$f" 2>/dev/null | tr -d '\0')
  case $(basename -- "$argv0") in *qemu*) ;; *) continue ;; esac
  kill -9 "$pid" 2>/dev/null && pids="$pids $pid"
done
for pid in $pids; do
  for _ in $(seq 1 50); do
    [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || break
    sleep 0.1
  done
  echo "$pid"
done
`;

/** Ends this run's QEMU processes on a host (by their QMP socket directory); returns their pids. */
export async function endOrphanedQemu(host: EngineHost): Promise<number[]> {
  const result = await host.transport.script(END_ORPHANS_SCRIPT, [`${host.runDir}/sock/`], { timeoutMs: 60_000 });
  return result.stdout.split('\n').filter(Boolean).map(Number);
}
