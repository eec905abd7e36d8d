/**
 * Queue-pair sweeps: a vDPA device's queue-pair count is fixed when it is created, so a matrix
 * with several `queuePairs` re-creates each host's devices with the next cell's max_vqp before
 * that cell's VM boots (ledger-recorded; teardown restores the count set-up found). After each
 * migration the destination's device says what was negotiated (`vdpa dev config show`), and
 * the record keeps it.
 */
import type { HostTransport } from '../hosts/transport.ts';
import type { MigrationHooks } from '../migration/interfaces.ts';
import type { NegotiatedQueuePairs } from '../results/types.ts';
import { applySteps, type ProvisionLedger } from '../provision/apply.ts';
import { runCommand } from '../hosts/command.ts';
import { vhostVdpaDeviceCommand } from '../provision/preflight.ts';
import { parseVdpaConfig, queuePairStep, type VdpaDeviceConfig } from '../provision/steps.ts';
import { deviceFor, type VdpaHost } from './vdpa.ts';

/** What `vdpa dev config show` said about the destination's device after a migration (the record's shape, harness/results/schema.ts). */
export type { NegotiatedQueuePairs };

/**
 * From `vdpa -j dev config show`: the kernel reports max_vq_pairs only once the driver has
 * negotiated VIRTIO_NET_F_MQ; negotiated features without MQ mean one pair; none at all mean no
 * driver has negotiated yet (a guest without a virtio-net driver).
 */
export function negotiatedQueuePairs(config: VdpaDeviceConfig): { queuePairs: number | null; mq: boolean | null } {
  const features = config.negotiatedFeatures;
  if (!features || features.length === 0) return { queuePairs: null, mq: null };
  if (!features.includes('MQ')) return { queuePairs: 1, mq: false };
  return { queuePairs: config.maxVqPairs ?? null, mq: true };
}

export interface SweepOptions {
  transports: ReadonlyMap<string, HostTransport>;
  hosts: readonly VdpaHost[];
  /** Host → device name → /dev/vhost-vdpa-N; updated in place when a device is re-created. */
  devicePaths: Map<string, Map<string, string>>;
  ledger: ProvisionLedger;
  /** The count set-up created the devices with. */
  initial: number | null;
  sameHost: boolean;
  log: (line: string) => void;
}

export function queuePairHooks(o: SweepOptions): MigrationHooks {
  let current = o.initial;
  return {
    async beforeBlock({ block }) {
      const want = block.cell.queuePairs;
      if (want === null || want === current) return;
      for (const h of o.hosts) {
        const t = o.transports.get(h.name)!;
        await applySteps(
          t,
          h.vdpa.devices.map((d) => queuePairStep(d, h.vdpa.managementDevice, h.vdpa.driver, want)),
          o.ledger,
          o.log,
        );
        const paths = o.devicePaths.get(h.name) ?? new Map<string, string>();
        for (const d of h.vdpa.devices) paths.set(d.name, (await runCommand(t, vhostVdpaDeviceCommand(d.name))).stdout.trim());
        o.devicePaths.set(h.name, paths);
      }
      current = want;
    },
    async afterMigration({ planned, to }) {
      const h = o.hosts.find((x) => x.name === to.name);
      if (!h) return;
      const device = deviceFor(
        h.vdpa.devices.map((d) => d.name),
        o.sameHost,
        planned,
        'dst',
      );
      const result = await to.transport.run(['vdpa', '-j', 'dev', 'config', 'show', device], { allowFailure: true, timeoutMs: 30_000 });
      const config = parseVdpaConfig(result.stdout, device);
      const negotiated: NegotiatedQueuePairs = {
        host: to.name,
        device,
        ...negotiatedQueuePairs(config),
        ...(config.maxVqPairs !== undefined ? { maxVqPairs: config.maxVqPairs } : {}),
      };
      return { negotiatedQueuePairs: negotiated };
    },
  };
}
