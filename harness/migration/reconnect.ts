/**
 * A host connection that drops mid-run (ssh: sshd restarted, host rebooted, link down). What
 * ran over it is gone: QMP sockets, QEMU's launch sessions, so the migration in flight is lost.
 * The engine names the loss in that migration's record, waits (bounded) for the host to come
 * back, ends the QEMU processes of this run that outlived the connection there, and goes on
 * with a fresh pair; a host that stays away stops the run (HostUnreachableError).
 */
import { HostUnreachableError, type ConnectionLoss } from '../hosts/transport.ts';
import { endQemuProcesses } from '../qemu/processes.ts';
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
export async function restoreConnections(
  lost: readonly LostHost[],
  timeoutMs: number,
  note: (message: string) => void,
  signal?: AbortSignal,
): Promise<HostUnreachableError | undefined> {
  const outcomes = await Promise.allSettled(
    lost.map(async ({ host }) => {
      const back = await host.transport.reconnect!(timeoutMs, { onRetry: note, signal });
      note(`${host.name}: connection back after ${(back.downMs / 1000).toFixed(1)} s (${back.attempts} attempt${back.attempts === 1 ? '' : 's'})`);
      // not fatal: the run goes on, and the note tells the user to look for a stray QEMU on that host
      const ended = await endOrphanedQemu(host).catch((error: Error) => {
        note(
          `${host.name}: could not look for QEMU processes of this run that outlived the connection (look for QEMU with ${host.runDir}/sock/ in its command line): ${error.message}`,
        );
        return [];
      });
      if (ended.length > 0)
        note(
          `${host.name}: ended ${ended.length} QEMU process${ended.length === 1 ? '' : 'es'} of this run that outlived the connection (pid ${ended.join(', ')})`,
        );
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

/** Ends this run's QEMU processes on a host (by their QMP socket directory); returns their pids. */
export async function endOrphanedQemu(host: EngineHost): Promise<number[]> {
  return endQemuProcesses(host.transport, `${host.runDir}/sock/`);
}
