/**
 * The locked-memory limit a QEMU needs. vhost-vdpa pins every page of guest RAM it maps and the
 * kernel charges them to the process's RLIMIT_MEMLOCK (vhost_vdpa_process_iotlb_update →
 * vhost_vdpa_pa_map), root included: no CAP_IPC_LOCK bypass. libvirt raises the limit for its
 * guests (guest RAM + 1 GiB per VFIO/vDPA device set); a raw-QEMU harness must do it itself.
 */
import type { VmSettings } from './schema.ts';
import { parseSize } from './size.ts';

/** Beyond guest RAM, as libvirt allows: IOMMU tables, the vrings, QEMU's own locked pages. */
export const PIN_OVERHEAD_BYTES = 2 ** 30;

/** Whether this VM's NIC pins guest RAM: a vhost-vDPA NIC (vm.nic vdpa, or a cell with queue pairs). */
export function pinsGuestMemory(vm: Pick<VmSettings, 'nic'>, queuePairs: number | null): boolean {
  return queuePairs !== null || vm.nic.kind === 'vdpa';
}

/** The memlock limit (bytes, soft = hard) QEMU is started with when it pins: guest RAM + overhead; null when it does not pin. */
export function memlockLimitBytes(vm: Pick<VmSettings, 'nic'>, vmSize: string, queuePairs: number | null): number | null {
  return pinsGuestMemory(vm, queuePairs) ? guestMemlockBytes(parseSize(vmSize)) : null;
}

/** The limit for a guest of this many bytes. */
export function guestMemlockBytes(guestBytes: number): number {
  return guestBytes + PIN_OVERHEAD_BYTES;
}

/** `prlimit` in front of a command: the limit is set on the process it execs, so QEMU keeps its pid. */
export function withMemlock(argv: readonly string[], bytes: number | null): string[] {
  return bytes === null ? [...argv] : ['prlimit', `--memlock=${bytes}:${bytes}`, '--', ...argv];
}
