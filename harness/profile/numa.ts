/**
 * A host's NUMA placement for the QEMU it runs (`hosts[].numa`): which host nodes the guest
 * memory backend's pages come from, with which policy (QEMU's memory-backend host-nodes= and
 * policy=, an mbind of the guest RAM), and which CPUs the vCPU threads and the emulator thread
 * (QEMU's main thread) may run on. On a two-socket host the NIC's node matters: guest RAM the
 * NIC DMAs into and the threads that drive its queues belong on it (guestperf's --membind and
 * --physcpubind). Per host, since the two hosts' NICs need not sit on the same node.
 */
import { z } from 'zod';

/** A Linux CPU list as taskset -c and /proc/PID/status Cpus_allowed_list write it: 0-3,8,10-11. */
const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** The numbers of a CPU or node list ("0-3,8" → [0, 1, 2, 3, 8]); throws on anything else. */
export function parseCpuList(list: string): number[] {
  const text = list.trim();
  if (!CPU_LIST.test(text)) throw new Error(`"${list}" is not a CPU list (e.g. 0-3,8)`);
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [a, b = a] = part.split('-').map(Number);
    if (b < a) throw new Error(`"${part}" in "${list}" runs backwards`);
    for (let n = a; n <= b; n++) out.add(n);
  }
  return [...out].sort((x, y) => x - y);
}

/** Numbers as a list in ranges: [0, 1, 2, 5] → "0-2,5". */
export function formatCpuList(numbers: readonly number[]): string {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return parts.join(',');
}

const cpuList = z
  .string()
  .superRefine((value, ctx) => {
    try {
      parseCpuList(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  })
  .describe('A CPU list as taskset -c takes it: 8-15, 0,2,4');

export const numaSchema = z
  .strictObject({
    memory: z
      .strictObject({
        hostNodes: z.array(z.number().int().min(0).max(1023)).min(1).describe("Host NUMA nodes guest RAM comes from (the NIC's node)"),
        policy: z
          .enum(['bind', 'preferred', 'interleave'])
          .default('bind')
          .describe('bind: only these nodes; preferred: this node first (one node); interleave: round-robin over them'),
      })
      .refine((m) => m.policy !== 'preferred' || m.hostNodes.length === 1, { message: 'policy preferred takes exactly one host node' })
      .optional()
      .describe("The guest memory backend's host-nodes= and policy= (an mbind of guest RAM, checked in /proc/PID/numa_maps)"),
    vcpus: z
      .union([cpuList, z.array(cpuList).min(1)])
      .optional()
      .describe(
        "vCPU threads' CPUs (found through QMP query-cpus-fast): one list for every vCPU, or one list per vCPU (vCPU i gets the i-th; as many as vm.cpus)",
      ),
    emulator: cpuList.optional().describe("The emulator thread's CPUs: QEMU's main thread (its pid), which runs the main loop and QMP"),
  })
  .describe(
    "This host's NUMA placement of QEMU: guest RAM on host nodes, vCPU and emulator threads on CPUs (checked before every migration, recorded in extra.numa)",
  );

export type HostNuma = z.output<typeof numaSchema>;
export type NumaMemory = NonNullable<HostNuma['memory']>;

/** The memory backend's options for a placement: host-nodes= once per node (QEMU's list syntax in -object), then policy=. */
export function memoryBackendNumaProps(memory: NumaMemory | undefined): string[] {
  if (!memory) return [];
  return [...memory.hostNodes.map((n) => `host-nodes=${n}`), `policy=${memory.policy}`];
}

/** How /proc/PID/numa_maps shows the policy of a mapping under this placement (mempolicy.c's mpol_to_str). */
export function numaMapsPolicy(memory: NumaMemory): string {
  const nodes = formatCpuList(memory.hostNodes);
  return `${memory.policy === 'preferred' ? 'prefer' : memory.policy}:${nodes}`;
}

/** The CPU list of vCPU `index` under `vcpus` (one list for all, or one per vCPU). */
export function vcpuCpus(vcpus: NonNullable<HostNuma['vcpus']>, index: number): string | undefined {
  return typeof vcpus === 'string' ? vcpus : vcpus[index];
}

/** Where a profile's placement cannot work whatever the host: one list per vCPU but not as many as vm.cpus. */
export function numaProfileProblems(hosts: readonly { numa?: HostNuma }[], cpus: number): { path: (string | number)[]; message: string }[] {
  return hosts.flatMap((h, i) =>
    Array.isArray(h.numa?.vcpus) && h.numa.vcpus.length !== cpus
      ? [
          {
            path: ['hosts', i, 'numa', 'vcpus'],
            message: `${h.numa.vcpus.length} CPU lists for ${cpus} vCPUs (vm.cpus): give one per vCPU, or one list for all`,
          },
        ]
      : [],
  );
}
