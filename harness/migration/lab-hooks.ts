/** The migration hooks a profile calls for beyond lab preparation: variant memory, locked memory, NUMA placement, guest device started, vdpa vs vdpa-ready. */
import type { Profile } from '../profile/schema.ts';
import { deviceStartedHook } from './device-started.ts';
import { memlockHook } from './memlock-hook.ts';
import { numaHook } from './numa-hook.ts';
import type { MigrationHooks } from './interfaces.ts';
import { readyGapHook } from './ready-gap-hook.ts';

/**
 * iPXE under nested TCG reaches DRIVER_OK 6–9 s after boot on an idle machine, but took over
 * 60 s on a busy one; it lets the device go after some tens of seconds without DHCP. A guest that
 * let its device go is reset at once; one that never started it, after 150 s; give up after 6 min.
 */
export const FIRMWARE_DEVICE_WAIT = { rearmAfterMs: 150_000, timeoutMs: 360_000 };

/**
 * A guest with an OS (a kernel, a disk image, the built Linux guest) starts the vDPA device once
 * its virtio-net driver loads, and keeps it: the first migration of a boot must wait for that, or
 * it measures an idle device while the OS is still booting. No re-arming; up to 10 minutes (a
 * nested TCG boot is slow); never started is an invalid migration with the device's state.
 */
export const OS_DEVICE_WAIT = { rearmAfterMs: Infinity, timeoutMs: 600_000, rearm: false };

export function labHooks(profile: Profile, pair: readonly [string, string], note: (message: string) => void, metricNames: readonly string[]): MigrationHooks[] {
  const hooks: MigrationHooks[] = [];
  if (profile.variants.some((v) => v.memory)) hooks.push(variantMemoryHook());
  // placed before the waits below, so the guest's driver comes up on the threads' own CPUs
  const numaOf = new Map(profile.hosts.filter((h) => pair.includes(h.name) && h.numa).map((h) => [h.name, h.numa!]));
  if (numaOf.size > 0) hooks.push(numaHook(numaOf));
  const vdpaNic = profile.vm.nic.kind === 'vdpa' || profile.matrix.queuePairs.some((q) => q !== null);
  if (vdpaNic) hooks.push(memlockHook(profile.vm));
  if (vdpaNic && profile.vm.guest.kind === 'pxe') hooks.push(deviceStartedHook({ ...FIRMWARE_DEVICE_WAIT, note }));
  else if (vdpaNic && profile.vm.guest.kind !== 'firmware') hooks.push(deviceStartedHook({ ...OS_DEVICE_WAIT, note }));
  if (metricNames.includes('vdpa') && metricNames.includes('vdpa-ready')) hooks.push(readyGapHook(profile.metrics.disagreementTolerancePct, note));
  return hooks;
}

/** A variant's own guest-memory settings, applied over vm.memory for its QEMU processes. */
export function variantMemoryHook(): MigrationHooks {
  return {
    launch({ variant, vm }) {
      if (!variant.memory) return {};
      const memory = { ...vm.memory };
      for (const [k, v] of Object.entries(variant.memory)) if (v !== undefined) (memory as Record<string, unknown>)[k] = v;
      return { vm: { ...vm, memory } };
    },
  };
}
