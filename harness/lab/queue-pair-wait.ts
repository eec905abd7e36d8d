/**
 * Before every migration of a multi-queue cell with an OS guest: wait until the source's vDPA
 * device has negotiated the cell's queue pairs (`vdpa dev config show`: MQ and max_vq_pairs), so
 * a migration never starts while the guest's virtio-net driver is still bringing its queues up.
 * The wait goes into extra.queuePairWait; a device that never gets there makes the migration
 * invalid with what it had negotiated.
 */
import type { EngineHost, MigrationHooks } from '../migration/interfaces.ts';
import type { PlannedMigration } from '../migration/schedule.ts';
import { parseVdpaConfig } from '../provision/steps.ts';
import type { QueuePairWait } from '../results/types.ts';
import { negotiatedQueuePairs } from './queue-pairs.ts';
import { deviceFor, type VdpaHost } from './vdpa.ts';

/** Guests whose own virtio-net driver negotiates queue pairs (iPXE and firmware do not: no MQ). */
export function drivesQueues(kind: string): boolean {
  return kind === 'kernel' || kind === 'disk' || kind === 'builtin-linux';
}

const configShow = (device: string) => ['vdpa', '-j', 'dev', 'config', 'show', device];

export interface QueuePairWaitOptions {
  hosts: readonly VdpaHost[];
  sameHost: boolean;
  timeoutMs: number;
  pollMs?: number;
}

export function queuePairWaitHook(o: QueuePairWaitOptions): MigrationHooks {
  const waits = new Map<number, QueuePairWait>();
  /** The source's device when the cell asks for more than one queue pair, else nothing to wait for. */
  const waitFor = (planned: PlannedMigration, from: EngineHost) => {
    const wanted = planned.cell.queuePairs;
    const h = o.hosts.find((x) => x.name === from.name);
    if (wanted === null || wanted <= 1 || !h) return undefined;
    return {
      wanted,
      device: deviceFor(
        h.vdpa.devices.map((d) => d.name),
        o.sameHost,
        planned,
        'src',
      ),
    };
  };
  return {
    describeBeforeMigration({ planned, from }) {
      const w = waitFor(planned, from);
      return w
        ? [
            `[${from.name}] wait until the source device has negotiated ${w.wanted} queue pairs (extra.queuePairWait): ${from.transport.describe(configShow(w.device))}`,
          ]
        : [];
    },
    async beforeMigration({ planned, from }) {
      const w = waitFor(planned, from);
      if (!w) return;
      const { wanted, device } = w;
      const started = Date.now();
      for (;;) {
        const result = await from.transport.run(configShow(device), { allowFailure: true, timeoutMs: 30_000 });
        const n = negotiatedQueuePairs(parseVdpaConfig(result.stdout, device));
        const reached = n.queuePairs === wanted;
        const waitedMs = Date.now() - started;
        if (reached || waitedMs >= o.timeoutMs) {
          waits.set(planned.seq, { host: from.name, device, wanted, negotiated: n.queuePairs, mq: n.mq, waitedMs, reached });
          return;
        }
        await new Promise((r) => setTimeout(r, o.pollMs ?? 1000));
      }
    },
    async afterMigration({ planned }) {
      const wait = waits.get(planned.seq);
      waits.delete(planned.seq);
      if (!wait) return;
      const had =
        wait.negotiated === null
          ? 'no driver had negotiated'
          : `${wait.negotiated} queue pair${wait.negotiated === 1 ? '' : 's'} negotiated${wait.mq ? '' : ' (no MQ)'}`;
      const invalid = wait.reached
        ? undefined
        : `the source's vDPA device ${wait.device} on ${wait.host} had ${had} after ${(wait.waitedMs / 1000).toFixed(1)} s, the cell asks for ${wait.wanted}`;
      return { parts: { queuePairWait: wait }, ...(invalid ? { invalid } : {}) };
    },
  };
}
