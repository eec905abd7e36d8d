/**
 * Preflight of a host's NUMA placement (hosts[].numa): the nodes guest RAM is bound to and the
 * CPUs threads are pinned to must exist on that host (online), and taskset must be there, or
 * the run stops before any QEMU starts, naming what the host has. A node that does not exist
 * would otherwise fail QEMU's mbind at the first boot ("cannot bind memory to host NUMA nodes").
 */
import { script } from '../hosts/command.ts';
import { formatCpuList, parseCpuList, type HostNuma } from '../profile/numa.ts';
import type { HostTransport } from '../hosts/transport.ts';
import { PreflightError, runChecks, type HostCheck } from './preflight.ts';

/** What the host has online: its nodes and its CPUs, one line each ("missing" without NUMA in the kernel). */
const ONLINE = String.raw`
if [ -r /sys/devices/system/node/online ]; then echo "nodes $(cat /sys/devices/system/node/online)"; else echo "nodes missing"; fi
echo "cpus $(cat /sys/devices/system/cpu/online)"
if command -v taskset >/dev/null 2>&1; then echo "taskset yes"; else echo "taskset no"; fi
`;

function online(stdout: string, key: string): number[] | null {
  const value = new RegExp(`^${key} (\\S+)$`, 'm').exec(stdout)?.[1];
  if (!value || value === 'missing') return null;
  try {
    return parseCpuList(value);
  } catch {
    return null;
  }
}

/** The CPUs a placement pins threads to, each list once. */
function pinnedCpus(numa: HostNuma): number[] {
  const lists = [...(numa.vcpus === undefined ? [] : typeof numa.vcpus === 'string' ? [numa.vcpus] : numa.vcpus), ...(numa.emulator ? [numa.emulator] : [])];
  return [...new Set(lists.flatMap(parseCpuList))].sort((a, b) => a - b);
}

/** One check: the nodes, the CPUs and taskset, said together so a lab engineer fixes the profile once. */
export function numaCheck(numa: HostNuma): HostCheck {
  const nodes = numa.memory?.hostNodes ?? [];
  const cpus = pinnedCpus(numa);
  const pins = cpus.length > 0;
  return {
    name: `NUMA placement: ${[nodes.length ? `guest RAM ${numa.memory!.policy} to node(s) ${formatCpuList(nodes)}` : '', pins ? `threads on CPUs ${formatCpuList(cpus)}` : ''].filter(Boolean).join(', ')}`,
    command: script(ONLINE),
    evaluate(r) {
      const problems: string[] = [];
      const hostNodes = online(r.stdout, 'nodes');
      if (nodes.length > 0) {
        if (hostNodes === null)
          problems.push(`numa.memory.hostNodes ${formatCpuList(nodes)}: this host's kernel shows no NUMA nodes (/sys/devices/system/node/online is missing)`);
        else {
          const absent = nodes.filter((n) => !hostNodes.includes(n));
          if (absent.length > 0)
            problems.push(`numa.memory.hostNodes: node ${formatCpuList(absent)} does not exist on this host (its nodes: ${formatCpuList(hostNodes)})`);
        }
      }
      if (pins) {
        const hostCpus = online(r.stdout, 'cpus');
        const absent = hostCpus === null ? cpus : cpus.filter((c) => !hostCpus.includes(c));
        if (absent.length > 0)
          problems.push(
            `numa.vcpus/emulator: CPU ${formatCpuList(absent)} is not online on this host (online: ${hostCpus ? formatCpuList(hostCpus) : 'unknown'})`,
          );
        if (!/^taskset yes$/m.test(r.stdout)) problems.push('the taskset command is missing (install util-linux), which pins the vCPU and emulator threads');
      }
      return problems.length ? problems.join('; ') : null;
    },
  };
}

/** Every host of the run with a placement checked against what it has; stops the run with every problem at once. */
export async function preflightNuma(hosts: readonly { name: string; numa?: HostNuma }[], transports: ReadonlyMap<string, HostTransport>): Promise<void> {
  const placed = hosts.filter((h) => h.numa && transports.has(h.name));
  const problems = (await Promise.all(placed.map((h) => runChecks(transports.get(h.name)!, [numaCheck(h.numa!)])))).flat();
  if (problems.length > 0) throw new PreflightError(problems);
}
