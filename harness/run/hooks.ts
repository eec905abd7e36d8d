/**
 * Every migration hook a run applies, in the order it applies them: the lab's (each host's QEMU
 * binary and root, its vDPA devices, a sweep's queue pairs), the lab in a box's (tap, guest
 * command line, probe, integrity), the caller's, then the ones the profile itself calls for
 * (variant memory, NUMA placement, locked memory, guest device start, vdpa vs vdpa-ready), then
 * the lab's waits (a multi-queue cell's queue pairs, once the driver is up on its pinned CPUs). `plan` launches its QEMU through the
 * same list, so a hook that changes a command line changes the plan too.
 */
import { labHooks } from '../migration/lab-hooks.ts';
import type { MigrationHooks } from '../migration/interfaces.ts';
import type { Profile } from '../profile/schema.ts';

export interface RunHookParts {
  /** The effective profile (after the lab in a box rewrote it). */
  profile: Profile;
  pair: readonly [string, string];
  metricNames: readonly string[];
  note: (message: string) => void;
  lab?: readonly MigrationHooks[];
  /** The lab's waits before `migrate` (queue pairs): after the profile's NUMA placement and DRIVER_OK wait. */
  labWaits?: readonly MigrationHooks[];
  box?: readonly MigrationHooks[];
  /** The caller's own (tests, fault injection). */
  extra?: readonly MigrationHooks[];
}

export function runHooks({ profile, pair, metricNames, note, lab = [], labWaits = [], box = [], extra = [] }: RunHookParts): MigrationHooks[] {
  return [...lab, ...box, ...extra, ...labHooks(profile, pair, note, metricNames), ...labWaits];
}
