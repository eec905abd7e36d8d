/**
 * A host's NUMA placement of its QEMU (hosts[].numa, profile/numa.ts), applied and checked
 * before every migration on both sides: guest RAM's policy is on QEMU's command line (the
 * launch hook below: host-nodes=, policy=) and read back twice, from QEMU (query-memdev) and
 * from the kernel (/proc/PID/numa_maps); the vCPU threads (query-cpus-fast's thread-id) and the
 * emulator thread (QEMU's main thread, its pid) are pinned with taskset through the host's
 * transport (sudo too, an argument array) and their Cpus_allowed_list read back from
 * /proc/PID/task/TID/status. Recorded in extra.numa; a placement the kernel does not have makes
 * the migration invalid, saying which, and one that cannot be read is unknown, never assumed.
 */
import { formatCpuList, memoryBackendNumaProps, numaMapsPolicy, parseCpuList, vcpuCpus, type HostNuma } from '../profile/numa.ts';
import type { RunningQemu } from '../qemu/running.ts';
import type { NumaPart } from '../results/types.ts';
import type { EngineHost, MigrationHooks } from './interfaces.ts';

type QemuNuma = NonNullable<NumaPart['source']>;
type Affinity = NonNullable<QemuNuma['emulator']>;

/** taskset on one thread (a TID is a pid to sched_setaffinity): only that thread, not its siblings. `plan` passes placeholders for the ids. */
export function pinCommand(cpus: string, tid: number | string): string[] {
  return ['taskset', '-p', '-c', cpus, String(tid)];
}

/** The threads' status files and QEMU's memory map the check reads (plan shows them). */
export const threadStatusPath = (pid: number | string, tid: number | string) => `/proc/${pid}/task/${tid}/status`;
export const numaMapsPath = (pid: number | string) => `/proc/${pid}/numa_maps`;

/** Cpus_allowed_list from a /proc status file, normalised; null when the line is missing. */
export function parseCpusAllowed(status: string): string | null {
  const m = /^Cpus_allowed_list:\s*(\S+)\s*$/m.exec(status);
  return m ? formatCpuList(parseCpuList(m[1])) : null;
}

/** The distinct policies other than default of the mappings in /proc/PID/numa_maps ("7f.. bind:0 anon=…" → bind:0). */
export function numaMapsPolicies(numaMaps: string): string[] {
  const policies = new Set<string>();
  for (const line of numaMaps.split('\n')) {
    const policy = line.split(' ')[1];
    if (policy && policy !== 'default') policies.add(policy);
  }
  return [...policies].sort();
}

const sameCpus = (a: string, b: string) => formatCpuList(parseCpuList(a)) === formatCpuList(parseCpuList(b));
const firstLine = (error: unknown) => (error as Error).message.split('\n')[0];

async function pinAndRead(q: RunningQemu, tid: number, wanted: string | undefined): Promise<Affinity> {
  let unknown: string | undefined;
  if (wanted !== undefined) {
    const r = await q.host.run(pinCommand(wanted, tid), { allowFailure: true });
    if (r.exitCode !== 0) unknown = `taskset ${wanted} ${tid} failed: ${r.stderr.trim() || `exit ${r.exitCode}`}`;
  }
  try {
    const allowed = parseCpusAllowed((await q.host.readFile(threadStatusPath(q.process.pid, tid))).toString('utf8'));
    const missing = allowed === null ? `no Cpus_allowed_list in ${threadStatusPath(q.process.pid, tid)}` : undefined;
    return { tid, wanted: wanted ?? null, allowed, ...(unknown || missing ? { unknown: unknown ?? missing } : {}) };
  } catch (error) {
    return { tid, wanted: wanted ?? null, allowed: null, unknown: unknown ?? firstLine(error) };
  }
}

async function readMemory(q: RunningQemu, memory: NonNullable<HostNuma['memory']>): Promise<NonNullable<QemuNuma['memory']>> {
  const wanted = numaMapsPolicy(memory);
  let qemu: { hostNodes: number[]; policy: string } | null = null;
  const problems: string[] = [];
  try {
    const memdevs = await q.qmp.execute<{ id?: string; 'host-nodes': number[]; policy: string }[]>('query-memdev');
    const mem0 = memdevs.find((m) => m.id === 'mem0') ?? memdevs[0];
    if (mem0) qemu = { hostNodes: mem0['host-nodes'], policy: mem0.policy };
  } catch (error) {
    problems.push(`query-memdev: ${firstLine(error)}`);
  }
  let kernel: string[] = [];
  try {
    kernel = numaMapsPolicies((await q.host.readFile(numaMapsPath(q.process.pid))).toString('utf8'));
  } catch (error) {
    problems.push(firstLine(error));
  }
  return { wanted, qemu, kernel, ...(problems.length ? { unknown: problems.join('; ') } : {}) };
}

/** Pins one QEMU's threads as its host's placement asks, then reads back what the kernel and QEMU have. */
export async function placeQemu(q: RunningQemu, numa: HostNuma): Promise<QemuNuma> {
  const pid = q.process.pid;
  const placed: QemuNuma = { pid };
  if (numa.memory) placed.memory = await readMemory(q, numa.memory);
  if (numa.emulator !== undefined) placed.emulator = await pinAndRead(q, pid, numa.emulator);
  if (numa.vcpus !== undefined) {
    const vcpus = numa.vcpus;
    try {
      const cpus = await q.qmp.execute<{ 'cpu-index': number; 'thread-id': number }[]>('query-cpus-fast');
      placed.vcpus = await Promise.all(
        cpus.map(async (c) => ({ index: c['cpu-index'], ...(await pinAndRead(q, c['thread-id'], vcpuCpus(vcpus, c['cpu-index']))) })),
      );
    } catch (error) {
      placed.vcpus = [{ index: -1, tid: -1, wanted: null, allowed: null, unknown: `query-cpus-fast: ${firstLine(error)}` }];
    }
  }
  return placed;
}

/** What of a placement the kernel does not have, in words; empty when every part is as asked (an unreadable part is said too). */
export function placementProblems(side: string, placed: QemuNuma): string[] {
  const problems: string[] = [];
  const m = placed.memory;
  if (m && !m.kernel.includes(m.wanted))
    problems.push(
      `the ${side} QEMU's guest RAM is not ${m.wanted} in /proc/${placed.pid}/numa_maps (found ${m.kernel.join(', ') || 'only default'}${m.unknown ? `; ${m.unknown}` : ''})`,
    );
  const threads = [
    ...(placed.emulator ? [{ what: 'emulator thread', a: placed.emulator }] : []),
    ...(placed.vcpus ?? []).map((a) => ({ what: `vCPU ${a.index}`, a })),
  ];
  for (const { what, a } of threads) {
    if (a.wanted === null) continue;
    if (a.allowed === null || !sameCpus(a.allowed, a.wanted))
      problems.push(
        `the ${side} QEMU's ${what} (TID ${a.tid}) may run on ${a.allowed ?? 'unknown CPUs'}, not ${a.wanted}${a.unknown ? ` (${a.unknown})` : ''}`,
      );
  }
  return problems;
}

const PID = 'QEMU_PID';

/** What the hook does on one side with a placement before `migrate`, with QEMU_PID and the vCPU TIDs as placeholders (plan). */
function describePlacement(host: EngineHost, side: 'source' | 'destination', numa: HostNuma, cpus: number): string[] {
  const show = (argv: string[]) => host.transport.describe(argv);
  const at = `[${host.name}] ${side} QEMU`;
  const lines: string[] = [];
  if (numa.memory)
    lines.push(
      `${at}: guest RAM ${memoryBackendNumaProps(numa.memory).join(',')} (on its command line); read back: QMP {"execute":"query-memdev"} and ${show(['cat', '--', numaMapsPath(PID)])} must show ${numaMapsPolicy(numa.memory)}`,
    );
  if (numa.emulator !== undefined)
    lines.push(
      `${at}: emulator thread pinned: ${show(pinCommand(numa.emulator, PID))}; read back: ${show(['cat', '--', threadStatusPath(PID, PID)])} (Cpus_allowed_list)`,
    );
  if (numa.vcpus !== undefined) {
    const vcpus = numa.vcpus;
    const lists = Array.from({ length: cpus }, (_, i) => `vCPU ${i} → ${vcpuCpus(vcpus, i)}`).join(', ');
    lines.push(
      `${at}: vCPU threads from QMP {"execute":"query-cpus-fast"} (thread-id), each pinned: ${show(pinCommand('CPUS', 'VCPU_TID'))} (${lists}); read back: ${show(['cat', '--', threadStatusPath(PID, 'VCPU_TID')])} (Cpus_allowed_list)`,
    );
  }
  lines.push(`${at}: placement recorded in extra.numa; one the kernel does not have makes the migration invalid`);
  return lines;
}

/** The placement hooks for the hosts that have one (by host name). */
export function numaHook(numaOf: ReadonlyMap<string, HostNuma>): MigrationHooks {
  const seen = new Map<number, NumaPart>();
  return {
    launch({ host }) {
      const memory = numaOf.get(host.name)?.memory;
      return memory ? { memoryNuma: memory } : {};
    },
    describeBeforeMigration: ({ from, to, vm }) =>
      (
        [
          [from, 'source'],
          [to, 'destination'],
        ] as const
      ).flatMap(([host, side]) => (numaOf.has(host.name) ? describePlacement(host, side, numaOf.get(host.name)!, vm.cpus) : [])),
    async beforeMigration({ planned, from, to, source, destination }) {
      const [src, dst] = await Promise.all([
        numaOf.has(from.name) ? placeQemu(source, numaOf.get(from.name)!) : undefined,
        numaOf.has(to.name) ? placeQemu(destination, numaOf.get(to.name)!) : undefined,
      ]);
      seen.set(planned.seq, { ...(src ? { source: src } : {}), ...(dst ? { destination: dst } : {}) });
    },
    async afterMigration({ planned }) {
      const part = seen.get(planned.seq);
      seen.delete(planned.seq);
      if (!part) return;
      const problems = [
        ...(part.source ? placementProblems('source', part.source) : []),
        ...(part.destination ? placementProblems('destination', part.destination) : []),
      ];
      return { parts: { numa: part }, ...(problems.length ? { invalid: problems.join('; ') } : {}) };
    },
  };
}
