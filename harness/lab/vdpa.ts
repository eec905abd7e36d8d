/**
 * The vDPA lab around a run: which steps and checks each host gets, which /dev/vhost-vdpa-N each
 * QEMU process opens, and the engine hook that hands it to the launch. Pure where it can be, so
 * `plan` and `run` share it.
 */
import type { MigrationHooks } from '../migration/interfaces.ts';
import type { PlannedMigration } from '../migration/schedule.ts';
import type { Host, MetricRule, Profile } from '../profile/schema.ts';
import { parseSize } from '../profile/size.ts';
import { firewallStep, type MigrationPort } from '../provision/firewall.ts';
import type { EventRequirement } from '../provision/preflight.ts';
import { vdpaSetupSteps, type ProvisionStep } from '../provision/steps.ts';

export type VdpaHost = Host & { vdpa: NonNullable<Host['vdpa']> };

export function isVdpaProfile(profile: Profile, queuePairs: readonly (number | null)[] = profile.matrix.queuePairs): boolean {
  return profile.vm.nic.kind === 'vdpa' || queuePairs.some((q) => q !== null);
}

/** The distinct queue-pair counts of the matrix, in order (several: a sweep). */
export function queuePairCounts(queuePairs: readonly (number | null)[]): number[] {
  return [...new Set(queuePairs.filter((q): q is number => q !== null))];
}

/**
 * The queue-pair count devices are created with at set-up (`vdpa dev add ... max_vqp`): the
 * first of the matrix. A device's count is fixed at creation, so a sweep re-creates the devices
 * whenever a cell needs another count (queue-pairs.ts).
 */
export function deviceQueuePairs(queuePairs: readonly (number | null)[]): number | null {
  return queuePairCounts(queuePairs)[0] ?? null;
}

/** Management devices with a single queue pair: no sweep, no count above 1. */
const SINGLE_QUEUE_PAIR: Partial<Record<VdpaHost['vdpa']['driver'], string>> = {
  vdpa_sim_net: 'the vDPA simulator (vdpa_sim_net) has one queue pair and rejects max_vqp',
  vduse: 'a VDUSE device is created here with one queue pair',
};

/** Preflight for the matrix's queue pairs (pure): what a host's vDPA device cannot do. */
export function queuePairProblems(hosts: readonly VdpaHost[], queuePairs: readonly (number | null)[]): string[] {
  const counts = queuePairCounts(queuePairs);
  const problems: string[] = [];
  for (const h of hosts) {
    const why = SINGLE_QUEUE_PAIR[h.vdpa.driver];
    const beyond = counts.filter((c) => c > 1);
    if (why && beyond.length > 0)
      problems.push(
        `${h.name}: matrix.queuePairs asks for ${counts.join(', ')} queue pairs, but ${why}: a queue-pair sweep needs a NIC (mlx5_vdpa); use queuePairs: [1]`,
      );
  }
  return problems;
}

/** Source clones and installed QEMU builds: kept across runs (run directories are not). */
export function buildRoot(host: Pick<Host, 'workdir'>): string {
  return `${host.workdir.replace(/\/+$/, '')}/qemu-builds`;
}

export function largestGuestBytes(vmSizes: readonly string[]): number {
  return Math.max(...vmSizes.map(parseSize));
}

/** Where this host listens when it is the destination, and what the profile allows of its firewall. */
export function migrationPortOf(host: Pick<Host, 'migrationAddress'>, profile: Pick<Profile, 'migration'>): MigrationPort {
  return { address: host.migrationAddress, port: profile.migration.port, firewall: profile.migration.firewall };
}

/** The host's vDPA set-up, then (migration.firewall: open, a fixed port) the migration port opened where a firewall blocks it. */
export function hostSetupSteps(host: VdpaHost, profile: Profile, queuePairs: number | null): ProvisionStep[] {
  const port = migrationPortOf(host, profile);
  const opens = port.firewall === 'open' && port.port !== 0;
  return [...vdpaSetupSteps({ config: host.vdpa, vm: profile.vm, queuePairs }), ...(opens ? [firewallStep(port)] : [])];
}

/**
 * Which of a host's vDPA devices a QEMU process opens. A vhost-vdpa device opens once, and on a
 * host that is both source and destination the outgoing QEMU still holds its device while the
 * incoming one starts: alternate by migration number (the destination of migration k becomes the
 * source of k+1, so it keeps the device it was given).
 */
export function deviceFor(devices: readonly string[], sameHost: boolean, planned: Pick<PlannedMigration, 'seq'>, role: 'src' | 'dst'): string {
  if (!sameHost) return devices[0];
  if (devices.length < 2) throw new Error('source and destination run on the same host: it needs two vDPA devices (a vhost-vdpa device opens once)');
  const index = role === 'dst' ? planned.seq : planned.seq - 1;
  return devices[((index % 2) + 2) % 2];
}

/** Launch hook: gives each QEMU process its /dev/vhost-vdpa-N (resolved at set-up, or a placeholder for plan). */
export function vdpaLaunchHook(devicePaths: ReadonlyMap<string, ReadonlyMap<string, string>>, sameHost: boolean, hosts: readonly VdpaHost[]): MigrationHooks {
  return {
    launch({ host, role, planned }) {
      const config = hosts.find((h) => h.name === host.name);
      if (!config) throw new Error(`host ${host.name} has no vdpa section`);
      const name = deviceFor(
        config.vdpa.devices.map((d) => d.name),
        sameHost,
        planned,
        role,
      );
      const path = devicePaths.get(host.name)?.get(name);
      if (!path) throw new Error(`${host.name}: no /dev/vhost-vdpa-* known for vDPA device ${name}`);
      return { vhostVdpaDevice: path };
    },
  };
}

/** For each used metric, each endpoint needs at least one of its candidate events in the binary. */
export function eventRequirements(names: readonly string[], rules: Readonly<Record<string, MetricRule>>): EventRequirement[] {
  const out: EventRequirement[] = [];
  for (const name of names) {
    const rule = rules[name];
    if (!rule) continue;
    out.push({ purpose: `the ${name} metric's start`, anyOf: rule.start.candidates.map((c) => c.event) });
    out.push({ purpose: `the ${name} metric's end`, anyOf: rule.end.candidates.map((c) => c.event) });
  }
  return out;
}
