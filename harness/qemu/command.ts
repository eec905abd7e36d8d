/**
 * Builds QEMU command lines as argument arrays (pure): the same function feeds `run` and `plan`.
 */
import type { Variant, VmSettings } from '../profile/schema.ts';
import { memlockLimitBytes, withMemlock } from '../profile/memlock.ts';
import { memoryBackendNumaProps, type NumaMemory } from '../profile/numa.ts';
import { parseSize, sizeToMiB } from '../profile/size.ts';
import { bindPlan, directoriesOf, rootedInvocation } from './root.ts';

export interface QemuLaunch {
  binary: string;
  variant: Variant;
  vm: VmSettings;
  vmSize: string;
  queuePairs: number | null;
  accel: 'kvm' | 'tcg';
  name: string;
  qmpSocket: string;
  traceFile: string;
  consoleFile: string;
  traceEvents: readonly string[];
  /** Directory for file-backed guest memory when the profile gives none. */
  defaultMemoryDir: string;
  /** `/dev/vhost-vdpa-N` for vDPA cells. */
  vhostVdpaDevice?: string;
  /** Host tap interface for a `nic: {kind: tap}` guest (pre-created, persistent). */
  tapInterface?: string;
  incoming: boolean;
  /** Root filesystem QEMU runs from (a provisioned Debian suite); `variant.qemu.chroot` otherwise. */
  root?: string;
  /** `-S`: the guest waits (for a tracer to attach) until QMP `cont`. */
  startPaused?: boolean;
  /** false: no `-D`/`-trace` (a dtrace-backend capture without the log backend). */
  logBackend?: boolean;
  /** The host's placement of guest RAM (hosts[].numa.memory): the backend's host-nodes= and policy=. */
  memoryNuma?: NumaMemory;
}

export function memoryBackendArgs(vm: VmSettings, sizeBytes: number, defaultDir: string, numa?: NumaMemory): string {
  const m = vm.memory;
  const props = [`id=mem0`, `size=${sizeToMiB(sizeBytes)}M`];
  switch (m.backend) {
    case 'ram':
      props.unshift('memory-backend-ram');
      break;
    case 'memfd':
      props.unshift('memory-backend-memfd');
      break;
    case 'file':
      props.unshift('memory-backend-file');
      props.push(`mem-path=${optValue(m.path ?? defaultDir)}`);
      break;
    case 'hugepages':
      props.unshift('memory-backend-file');
      props.push(`mem-path=${optValue(m.path ?? '/dev/hugepages')}`);
      break;
  }
  if (m.reserve !== undefined) props.push(`reserve=${onOff(m.reserve)}`);
  if (m.share !== undefined) props.push(`share=${onOff(m.share)}`);
  if (m.prealloc !== undefined) props.push(`prealloc=${onOff(m.prealloc)}`);
  props.push(...memoryBackendNumaProps(numa));
  return props.join(',');
}

/** QEMU option values escape a comma by doubling it; a path with a comma must not add options. */
export function optValue(v: string): string {
  return v.replaceAll(',', ',,');
}

function onOff(v: boolean): string {
  return v ? 'on' : 'off';
}

/**
 * How a variant's QEMU is invoked: the binary, or the binary inside a root filesystem (a Debian
 * suite's root the harness provisioned, or the variant's `qemu.chroot`) with the directories the
 * launch uses bound in at the same paths (qemu/root.ts).
 */
export function qemuInvocation(
  variant: Pick<Variant, 'qemu'>,
  binary: string,
  root?: string,
  uses: { dirs?: readonly string[]; mounts?: readonly string[] } = {},
): string[] {
  const dir = root ?? variant.qemu.chroot;
  return dir ? rootedInvocation(dir, binary, bindPlan(dir, uses.dirs, uses.mounts)) : [binary];
}

/** Directories a launch hands QEMU paths in (its files, guest images), and a memory backend's mount. */
export function launchPaths(l: QemuLaunch): { dirs: string[]; mounts: string[] } {
  const g = l.vm.guest;
  const images = g.kind === 'kernel' ? [g.kernel, g.initrd] : g.kind === 'disk' ? [g.image] : [];
  const m = l.vm.memory;
  const memoryDir = m.backend === 'file' ? (m.path ?? l.defaultMemoryDir) : m.backend === 'hugepages' ? (m.path ?? '/dev/hugepages') : undefined;
  return {
    dirs: directoriesOf([l.qmpSocket, l.traceFile, l.consoleFile, ...images]),
    mounts: memoryDir ? [memoryDir] : [],
  };
}

export function qemuArgs(l: QemuLaunch): string[] {
  const sizeBytes = parseSize(l.vmSize);
  const args = [
    // a pinning NIC needs guest RAM locked: the limit raised for this process alone (profile/memlock.ts)
    ...withMemlock(qemuInvocation(l.variant, l.binary, l.root, launchPaths(l)), memlockLimitBytes(l.vm, l.vmSize, l.queuePairs)),
    '-name',
    l.name,
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-machine',
    `${l.vm.machine},memory-backend=mem0`,
    '-accel',
    l.accel === 'tcg' ? 'tcg,thread=multi' : 'kvm',
    '-cpu',
    l.vm.cpuModel ?? (l.accel === 'kvm' ? 'host' : 'max'),
    '-smp',
    String(l.vm.cpus),
    '-m',
    `${sizeToMiB(sizeBytes)}M`,
    '-object',
    memoryBackendArgs(l.vm, sizeBytes, l.defaultMemoryDir, l.memoryNuma),
    '-qmp',
    `unix:${optValue(l.qmpSocket)},server=on,wait=off`,
    '-serial',
    `file:${l.consoleFile}`,
    '-msg',
    'timestamp=on',
  ];
  if (l.logBackend !== false) {
    args.push('-D', l.traceFile);
    for (const event of l.traceEvents) args.push('-trace', `enable=${event}`);
  }
  if (l.startPaused) args.push('-S');
  args.push(...nicArgs(l), ...guestArgs(l), ...l.vm.extraArgs, ...l.variant.extraArgs);
  if (l.incoming) args.push('-incoming', 'defer');
  return args;
}

function nicArgs(l: QemuLaunch): string[] {
  if (l.queuePairs !== null || l.vm.nic.kind === 'vdpa') {
    if (!l.vhostVdpaDevice) throw new Error('a vDPA cell needs a /dev/vhost-vdpa-N device on the host');
    const qp = l.queuePairs ?? 1;
    const svq = l.vm.nic.kind === 'vdpa' && l.vm.nic.shadowVirtqueue ? ',x-svq=on' : '';
    const mac = l.vm.nic.kind === 'vdpa' && l.vm.nic.mac ? `,mac=${l.vm.nic.mac}` : '';
    const mq = qp > 1 ? `,mq=on,vectors=${2 * qp + 2}` : '';
    return [
      '-netdev',
      `type=vhost-vdpa,vhostdev=${optValue(l.vhostVdpaDevice)},id=vdpa0${svq}`,
      '-device',
      `virtio-net-pci,netdev=vdpa0,disable-legacy=on${mq}${mac}`,
    ];
  }
  if (l.vm.nic.kind === 'tap') {
    if (!l.tapInterface) throw new Error('a tap NIC needs a tap interface on the host (the network lab provides one per host)');
    const mac = l.vm.nic.mac ?? DEFAULT_TAP_MAC;
    return [
      '-netdev',
      `tap,id=n0,ifname=${optValue(l.tapInterface)},script=no,downscript=no`,
      '-device',
      `virtio-net-pci,netdev=n0,mac=${mac},guest_announce=${onOff(l.vm.nic.guestAnnounce)}`,
    ];
  }
  return [];
}

export const DEFAULT_TAP_MAC = '52:54:00:98:00:02';

function guestArgs(l: QemuLaunch): string[] {
  const g = l.vm.guest;
  switch (g.kind) {
    case 'firmware':
      return [];
    case 'pxe':
      return ['-boot', 'n'];
    case 'kernel':
      return ['-kernel', g.kernel, ...(g.initrd ? ['-initrd', g.initrd] : []), ...(g.append ? ['-append', g.append] : [])];
    case 'builtin-linux':
      throw new Error('the builtin-linux guest is built before launch (the lab replaces it by its kernel and initrd)');
    case 'disk':
      return ['-drive', `file=${optValue(g.image)},format=${g.format},if=virtio${g.readonly ? ',readonly=on' : ''}`];
  }
}
