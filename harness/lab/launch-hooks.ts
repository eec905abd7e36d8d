/**
 * The lab's part of every QEMU command line: each host's binary, the root filesystem a Debian
 * suite's QEMU runs from, and each process's vDPA device. Pure over what set-up found, so the run
 * (with the real paths) and `plan` (with its placeholders) launch through the same hooks.
 */
import type { MigrationHooks } from '../migration/interfaces.ts';
import { OS_DEVICE_WAIT } from '../migration/lab-hooks.ts';
import { drivesQueues, queuePairWaitHook } from './queue-pair-wait.ts';
import { vdpaLaunchHook, type VdpaHost } from './vdpa.ts';

/** Variant → host → a path (its QEMU binary, its root filesystem). */
export type PerVariantHost = ReadonlyMap<string, ReadonlyMap<string, string>>;

export interface LabLaunchFacts {
  /** Each selected variant's QEMU binary on each host. */
  binaryOn: PerVariantHost;
  /** The root filesystem a `qemu.debian` variant's QEMU runs from, per host. */
  rootOn: PerVariantHost;
  /** With vDPA: each host's /dev/vhost-vdpa-N per device name, whether one host is both ends, and the guest's kind (an OS guest negotiates queue pairs). */
  vdpa?: { devicePaths: ReadonlyMap<string, ReadonlyMap<string, string>>; sameHost: boolean; hosts: readonly VdpaHost[]; guestKind: string };
}

/** The lab's hooks: `hooks` change each launch; `waits` act before `migrate`, after the profile's own (run/hooks.ts: after NUMA placement and DRIVER_OK). */
export interface LabHooks {
  binaries: Map<string, string>;
  hooks: MigrationHooks[];
  waits: MigrationHooks[];
}

/** Variant → the binary every host runs (the first host's where they differ: the hook then sets each host's). */
export function labLaunchHooks({ binaryOn, rootOn, vdpa }: LabLaunchFacts): LabHooks {
  const binaries = new Map<string, string>();
  const hooks: MigrationHooks[] = [];
  for (const [variant, perHost] of binaryOn) binaries.set(variant, [...perHost.values()][0]);
  if ([...binaryOn.values()].some((perHost) => new Set(perHost.values()).size > 1)) {
    hooks.push({ launch: ({ host, variant }) => ({ binary: binaryOn.get(variant.name)!.get(host.name)! }) });
  }
  if (rootOn.size > 0) {
    hooks.push({
      launch: ({ host, variant }) => {
        const root = rootOn.get(variant.name)?.get(host.name);
        return root ? { root } : {};
      },
    });
  }
  if (vdpa) hooks.push(vdpaLaunchHook(vdpa.devicePaths, vdpa.sameHost, vdpa.hosts));
  // an OS guest's driver brings its queues up after boot: every migration waits for the cell's count
  const waits =
    vdpa && drivesQueues(vdpa.guestKind) ? [queuePairWaitHook({ hosts: vdpa.hosts, sameHost: vdpa.sameHost, timeoutMs: OS_DEVICE_WAIT.timeoutMs })] : [];
  return { binaries, hooks, waits };
}
