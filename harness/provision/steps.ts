/**
 * vDPA host set-up as idempotent steps: each has a read-only check, an apply and an undo.
 * The check reports the host's state before the step; apply runs only when the state is not yet
 * what the profile wants, and the ledger keeps that earlier state so teardown undoes only what
 * the harness changed, back to what it found.
 */
import type { RunResult } from '../hosts/transport.ts';
import type { Host, VmSettings } from '../profile/schema.ts';
import { parseSize } from '../profile/size.ts';
import { argv, script, type HostCommand } from '../hosts/command.ts';

export interface Inspection {
  satisfied: boolean;
  /** The state found, kept for undo (e.g. the previous eswitch mode). */
  state: string;
  detail: string;
}

export interface ProvisionStep {
  /** Stable key for the ledger: the same step on the same host has the same id. */
  id: string;
  title: string;
  check: HostCommand;
  inspect(result: RunResult): Inspection;
  apply(found: Inspection | undefined): HostCommand[];
  /** Undo to the state recorded before apply; `undefined` only when describing (plan). */
  undo(previousState: string | undefined): HostCommand[];
}

export type VdpaHostConfig = NonNullable<Host['vdpa']>;

/** Shown in plan output where the real value is only known once the check has run. */
export const RECORDED = 'PREVIOUS';

const MODULE_LOADED = String.raw`
name=$(printf '%s' "$1" | tr - _)
if [ -d "/sys/module/$name" ]; then echo loaded; else echo absent; fi
`;

export function moduleStep(module: string): ProvisionStep {
  return {
    id: `module:${module}`,
    title: `kernel module ${module} loaded`,
    check: script(MODULE_LOADED, [module]),
    inspect: (r) => {
      const state = r.stdout.trim();
      return { satisfied: state === 'loaded', state, detail: state };
    },
    apply: () => [argv(['modprobe', module])],
    undo: () => [argv(['modprobe', '-r', module], { allowFailure: true })],
  };
}

/** Modules in load order: the bus, the vhost front end, then the management driver. */
export function modulesFor(config: VdpaHostConfig): string[] {
  return ['vdpa', 'vhost_vdpa', config.driver];
}

export function eswitchStep(pf: string): ProvisionStep {
  const dev = `pci/${pf}`;
  return {
    id: `eswitch:${pf}`,
    title: `eswitch of ${pf} in switchdev mode`,
    check: argv(['devlink', '-j', 'dev', 'eswitch', 'show', dev]),
    inspect: (r) => {
      const mode = parseEswitchMode(r.stdout, dev);
      return { satisfied: mode === 'switchdev', state: mode ?? 'unknown', detail: `mode ${mode ?? 'unknown'}` };
    },
    apply: () => [argv(['devlink', 'dev', 'eswitch', 'set', dev, 'mode', 'switchdev'])],
    undo: (previous) => (previous === 'unknown' ? [] : [argv(['devlink', 'dev', 'eswitch', 'set', dev, 'mode', previous ?? RECORDED])]),
  };
}

export function parseEswitchMode(json: string, dev: string): string | undefined {
  try {
    const parsed = JSON.parse(json) as { dev?: Record<string, { mode?: string }> };
    return parsed.dev?.[dev]?.mode;
  } catch {
    return undefined;
  }
}

export function sysfsWrite(path: string, value: string): HostCommand {
  return argv(['tee', path], { input: `${value}\n` });
}

export function vfStep(pf: string, count: number): ProvisionStep {
  const path = `/sys/bus/pci/devices/${pf}/sriov_numvfs`;
  return {
    id: `sriov:${pf}`,
    title: `${count} VFs on ${pf}`,
    check: argv(['cat', path]),
    inspect: (r) => {
      const state = r.stdout.trim();
      return { satisfied: Number(state) === count, state, detail: `${state} VFs` };
    },
    // the kernel refuses to change a non-zero VF count directly: go through 0
    apply: (found) => [...(found && Number(found.state) !== 0 ? [sysfsWrite(path, '0')] : []), sysfsWrite(path, String(count))],
    undo: (previous) => [sysfsWrite(path, '0'), ...(previous !== undefined && Number(previous) === 0 ? [] : [sysfsWrite(path, previous ?? RECORDED)])],
  };
}

export function hugepageSysfsPath(size: string): string {
  return `/sys/kernel/mm/hugepages/hugepages-${parseSize(size) / 1024}kB/nr_hugepages`;
}

export function hugepageStep(size: string, count: number): ProvisionStep {
  const path = hugepageSysfsPath(size);
  return {
    id: `hugepages:${size}`,
    title: `${count} hugepages of ${size}`,
    check: argv(['cat', path]),
    inspect: (r) => {
      const state = r.stdout.trim();
      return { satisfied: Number(state) >= count, state, detail: `${state} reserved` };
    },
    apply: () => [sysfsWrite(path, String(count))],
    undo: (previous) => [sysfsWrite(path, previous ?? RECORDED)],
  };
}

const HUGETLBFS_MOUNTED = String.raw`
if awk -v p="$1" '$2 == p && $3 == "hugetlbfs" { found = 1 } END { exit !found }' /proc/mounts; then echo mounted; else echo absent; fi
`;

export function hugetlbfsStep(path: string, pageSize: string): ProvisionStep {
  return {
    id: `hugetlbfs:${path}`,
    title: `hugetlbfs (${pageSize} pages) mounted on ${path}`,
    check: script(HUGETLBFS_MOUNTED, [path]),
    inspect: (r) => {
      const state = r.stdout.trim();
      return { satisfied: state === 'mounted', state, detail: state };
    },
    apply: () => [argv(['mkdir', '-p', '--', path]), argv(['mount', '-t', 'hugetlbfs', '-o', `pagesize=${pageSize}`, 'none', path])],
    undo: () => [argv(['umount', path])],
  };
}

const VDPA_DEVICE_STATE = String.raw`
if vdpa -j dev show "$1" >/dev/null 2>&1; then
  vdpa -j dev config show "$1" 2>/dev/null || echo '{}'
else
  echo absent
fi
`;

/**
 * `vdpa dev add` for a device. vdpa_sim_net and VDUSE have one queue pair and reject max_vqp; a
 * NIC takes the count here (1 too, so a sweep's single-pair cell is what it says), and QEMU takes
 * it from the device.
 */
export function vdpaAddCommand(
  device: { name: string; mac: string },
  managementDevice: string,
  queuePairs: number | null,
  driver?: VdpaHostConfig['driver'],
): string[] {
  const add = ['vdpa', 'dev', 'add', 'name', device.name, 'mgmtdev', managementDevice, 'mac', device.mac];
  if (queuePairs !== null && (queuePairs > 1 || driver === 'mlx5_vdpa')) add.push('max_vqp', String(queuePairs));
  return add;
}

export function vdpaDeviceStep(
  device: { name: string; mac: string },
  managementDevice: string,
  queuePairs: number | null,
  driver?: VdpaHostConfig['driver'],
): ProvisionStep {
  const add = vdpaAddCommand(device, managementDevice, queuePairs, driver);
  return {
    id: `vdpa-dev:${device.name}`,
    title: `vDPA device ${device.name} on ${managementDevice}${queuePairs && queuePairs > 1 ? ` with ${queuePairs} queue pairs` : ''}`,
    check: script(VDPA_DEVICE_STATE, [device.name]),
    inspect: (r) => {
      const text = r.stdout.trim();
      if (text === 'absent') return { satisfied: false, state: 'absent', detail: 'absent' };
      const qp = parseVdpaConfig(text, device.name).maxVqPairs;
      if (queuePairs !== null && queuePairs > 1 && qp !== undefined && qp !== queuePairs) {
        throw new Error(
          `vDPA device ${device.name} already exists with max_vq_pairs ${qp}, the run needs ${queuePairs}: delete it (vdpa dev del ${device.name}) or change the profile`,
        );
      }
      return { satisfied: true, state: 'present', detail: `present${qp !== undefined ? `, max_vq_pairs ${qp}` : ''}` };
    },
    apply: () => [argv(add)],
    undo: () => [argv(['vdpa', 'dev', 'del', device.name])],
  };
}

export interface VdpaDeviceConfig {
  maxVqPairs?: number;
  mac?: string;
  negotiatedFeatures?: string[];
}

/** `vdpa -j dev config show NAME`: {"config":{"vdpa0":{"mac":..., "max_vq_pairs":8, ...}}}. */
export function parseVdpaConfig(json: string, name: string): VdpaDeviceConfig {
  try {
    const parsed = JSON.parse(json) as { config?: Record<string, { max_vq_pairs?: number; mac?: string; negotiated_features?: string[] }> };
    const c = parsed.config?.[name];
    return { maxVqPairs: c?.max_vq_pairs, mac: c?.mac, negotiatedFeatures: c?.negotiated_features };
  } catch {
    return {};
  }
}

/**
 * A device's queue-pair count from `vdpa -j dev show NAME` (it holds whatever the driver
 * negotiated or not): `initial_config.max_vq_pairs` on kernels that report the creation
 * attributes, else from `max_vqs` (2 per pair + the control queue: 9 → 4).
 */
export function parseDeviceQueuePairs(json: string, name: string): number | undefined {
  try {
    const dev = (
      JSON.parse(json) as { dev?: Record<string, { max_vqs?: number; initial_config?: { max_vq_pairs?: number }; virtio_config?: { max_vq_pairs?: number } }> }
    ).dev?.[name];
    const configured = dev?.initial_config?.max_vq_pairs ?? dev?.virtio_config?.max_vq_pairs;
    if (configured !== undefined) return configured;
    if (dev?.max_vqs !== undefined && dev.max_vqs >= 3 && dev.max_vqs % 2 === 1) return (dev.max_vqs - 1) / 2;
    return undefined;
  } catch {
    return undefined;
  }
}

/**
 * A queue-pair sweep's per-cell step: the device deleted and created again with this cell's
 * max_vqp (a device's count is fixed at creation), bound to vhost_vdpa again. Undo re-creates
 * it with the count it had before; `default` means created without max_vqp.
 */
export function queuePairStep(device: { name: string; mac: string }, managementDevice: string, driver: VdpaHostConfig['driver'], count: number): ProvisionStep {
  const recreate = (qp: number | null) => [
    argv(['vdpa', 'dev', 'del', device.name]),
    argv(vdpaAddCommand(device, managementDevice, qp, driver)),
    script(VDPA_REBIND, [device.name, 'vhost_vdpa']),
  ];
  return {
    id: `vdpa-qp:${device.name}`,
    title: `vDPA device ${device.name} re-created with max_vqp ${count}`,
    check: argv(['vdpa', '-j', 'dev', 'show', device.name]),
    inspect: (r) => {
      const qp = parseDeviceQueuePairs(r.stdout, device.name);
      return {
        satisfied: qp === count,
        state: qp === undefined ? 'default' : String(qp),
        detail: qp === undefined ? 'queue pairs unknown' : `${qp} queue pair${qp === 1 ? '' : 's'}`,
      };
    },
    apply: () => recreate(count),
    undo: (previous) =>
      previous === undefined
        ? recreate(null).map((c) => (c.kind === 'argv' && c.argv[2] === 'add' ? argv([...c.argv, 'max_vqp', RECORDED]) : c))
        : recreate(previous === 'default' ? null : Number(previous)),
  };
}

const VDPA_DRIVER = String.raw`
link=$(readlink "/sys/bus/vdpa/devices/$1/driver" 2>/dev/null) || { echo none; exit 0; }
basename "$link"
`;

const VDPA_REBIND = String.raw`
set -e
dev=/sys/bus/vdpa/devices/$1
if [ -e "$dev/driver" ]; then printf '%s\n' "$1" > "$dev/driver/unbind"; fi
printf '%s\n' "$1" > "/sys/bus/vdpa/drivers/$2/bind"
`;

export function bindStep(name: string): ProvisionStep {
  return {
    id: `bind:${name}`,
    title: `${name} bound to vhost_vdpa`,
    check: script(VDPA_DRIVER, [name]),
    inspect: (r) => {
      const state = r.stdout.trim();
      return { satisfied: state === 'vhost_vdpa', state, detail: `driver ${state}` };
    },
    apply: () => [script(VDPA_REBIND, [name, 'vhost_vdpa'])],
    // a device the harness created is deleted by its own step; one it found keeps its old driver
    undo: (previous) => (previous === 'none' ? [] : [script(VDPA_REBIND, [name, previous ?? RECORDED])]),
  };
}

export interface SetupInput {
  config: VdpaHostConfig;
  vm: VmSettings;
  /** The queue-pair count the devices are created with (null: the device's default). */
  queuePairs: number | null;
}

/** Every set-up step for one host, in the order they must run; teardown is the reverse. */
export function vdpaSetupSteps({ config, vm, queuePairs }: SetupInput): ProvisionStep[] {
  const steps: ProvisionStep[] = [];
  if (config.hugepages) steps.push(hugepageStep(config.hugepages.size, config.hugepages.count));
  if (vm.memory.backend === 'hugepages' && vm.memory.path && config.hugepages) steps.push(hugetlbfsStep(vm.memory.path, config.hugepages.size));
  if (config.driver === 'mlx5_vdpa' && config.pf) {
    steps.push(eswitchStep(config.pf));
    if (config.vfCount !== undefined) steps.push(vfStep(config.pf, config.vfCount));
  }
  for (const module of modulesFor(config)) steps.push(moduleStep(module));
  for (const device of config.devices) {
    steps.push(vdpaDeviceStep(device, config.managementDevice, queuePairs, config.driver));
    steps.push(bindStep(device.name));
  }
  return steps;
}
