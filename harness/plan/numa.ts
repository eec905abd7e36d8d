/** The plan's NUMA preflight; what the placement does before every migration the hook itself describes (migration/numa-hook.ts). */
import { describeCommand } from '../hosts/command.ts';
import type { HostTransport } from '../hosts/transport.ts';
import type { Host } from '../profile/schema.ts';
import { numaCheck } from '../provision/numa-checks.ts';
import type { PlanContext } from './context.ts';
import type { Section } from './host-steps.ts';

/** Before anything is set up (read-only): the host has the nodes and CPUs the placement names, and taskset. */
export function planNumaPreflight({ say }: PlanContext, host: Host, t: HostTransport, section: Section): void {
  if (!host.numa) return;
  section(`NUMA preflight (read-only; a node or CPU the host lacks stops the run before any QEMU starts)`);
  const check = numaCheck(host.numa);
  say(`# ${check.name}`);
  say(describeCommand(t, check.command));
}
