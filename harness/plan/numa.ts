/** The plan's NUMA lines: a host's placement checked in preflight, then applied and read back before every migration (migration/numa-hook.ts). */
import { describeCommand } from '../hosts/command.ts';
import type { HostTransport } from '../hosts/transport.ts';
import type { EngineHost } from '../migration/interfaces.ts';
import { numaMapsPath, pinCommand, threadStatusPath } from '../migration/numa-hook.ts';
import { memoryBackendNumaProps, numaMapsPolicy, vcpuCpus, type HostNuma } from '../profile/numa.ts';
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

const PID = 'QEMU_PID';

/** What the hook does on each side with a placement before `migrate`, with QEMU_PID and the vCPU TIDs as placeholders. */
export function planNumaPlacement(ctx: PlanContext, from: EngineHost, to: EngineHost): void {
  for (const [host, side] of [
    [from, 'source'],
    [to, 'destination'],
  ] as const) {
    const numa: HostNuma | undefined = ctx.profile.hosts.find((h) => h.name === host.name)?.numa;
    if (!numa) continue;
    const show = (argv: string[]) => host.transport.describe(argv);
    const at = `[${host.name}] ${side} QEMU`;
    if (numa.memory) {
      ctx.say(
        `${at}: guest RAM ${memoryBackendNumaProps(numa.memory).join(',')} (on its command line); read back: QMP {"execute":"query-memdev"} and ${show(['cat', '--', numaMapsPath(PID)])} must show ${numaMapsPolicy(numa.memory)}`,
      );
    }
    if (numa.emulator !== undefined)
      ctx.say(
        `${at}: emulator thread pinned: ${show(pinCommand(numa.emulator, PID))}; read back: ${show(['cat', '--', threadStatusPath(PID, PID)])} (Cpus_allowed_list)`,
      );
    if (numa.vcpus !== undefined) {
      const vcpus = numa.vcpus;
      const lists = Array.from({ length: ctx.profile.vm.cpus }, (_, i) => `vCPU ${i} → ${vcpuCpus(vcpus, i)}`).join(', ');
      ctx.say(
        `${at}: vCPU threads from QMP {"execute":"query-cpus-fast"} (thread-id), each pinned: ${show(pinCommand('CPUS', 'VCPU_TID'))} (${lists}); read back: ${show(['cat', '--', threadStatusPath(PID, 'VCPU_TID')])} (Cpus_allowed_list)`,
      );
    }
    ctx.say(`${at}: placement recorded in extra.numa; one the kernel does not have makes the migration invalid`);
  }
}
