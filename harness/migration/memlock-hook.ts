/**
 * The locked-memory limit of every pinning QEMU, as the kernel has it: before each migration the
 * source's and destination's /proc/PID/limits are read ("Max locked memory"), recorded in
 * extra.memlock, and a QEMU whose soft limit is below what its guest pins makes the migration
 * invalid (the launch asked prlimit for it: profile/memlock.ts). A limit that cannot be read is
 * recorded as unknown, never as enough.
 */
import { memlockLimitBytes } from '../profile/memlock.ts';
import type { VmSettings } from '../profile/schema.ts';
import type { RunningQemu } from '../qemu/running.ts';
import type { MemlockPart } from '../results/types.ts';
import type { MigrationHooks } from './interfaces.ts';

type QemuMemlock = MemlockPart['source'];

/** "Max locked memory  8388608  8388608  bytes" (or "unlimited") from /proc/PID/limits; null when the line is missing. */
export function parseLockedMemory(limits: string): { softBytes: number | 'unlimited'; hardBytes: number | 'unlimited' } | null {
  const m = /^Max locked memory\s+(\d+|unlimited)\s+(\d+|unlimited)\s+bytes/m.exec(limits);
  if (!m) return null;
  const value = (v: string) => (v === 'unlimited' ? ('unlimited' as const) : Number(v));
  return { softBytes: value(m[1]), hardBytes: value(m[2]) };
}

const limitsPath = (pid: number | string) => `/proc/${pid}/limits`;

async function readMemlock(q: RunningQemu): Promise<QemuMemlock> {
  const pid = q.process.pid;
  try {
    const limits = parseLockedMemory((await q.host.readFile(limitsPath(pid))).toString('utf8'));
    return limits ? { pid, ...limits } : { pid, unknown: `no "Max locked memory" line in /proc/${pid}/limits` };
  } catch (error) {
    return { pid, unknown: (error as Error).message.split('\n')[0] };
  }
}

const below = (l: QemuMemlock, required: number) => 'softBytes' in l && l.softBytes !== 'unlimited' && l.softBytes < required;

export function memlockHook(vm: Pick<VmSettings, 'nic'>): MigrationHooks {
  const seen = new Map<number, MemlockPart>();
  return {
    describeBeforeMigration: ({ planned, from, to }) =>
      memlockLimitBytes(vm, planned.cell.vmSize, planned.cell.queuePairs) === null
        ? []
        : (
            [
              [from, 'source'],
              [to, 'destination'],
            ] as const
          ).map(
            ([host, side]) =>
              `[${host.name}] ${side} QEMU's locked-memory limit for the record (extra.memlock): ${host.transport.describe(['cat', '--', limitsPath('QEMU_PID')])}`,
          ),
    async beforeMigration({ planned, source, destination }) {
      const requiredBytes = memlockLimitBytes(vm, planned.cell.vmSize, planned.cell.queuePairs);
      if (requiredBytes === null) return;
      const [src, dst] = await Promise.all([readMemlock(source), readMemlock(destination)]);
      seen.set(planned.seq, { requiredBytes, source: src, destination: dst });
    },
    async afterMigration({ planned }) {
      const part = seen.get(planned.seq);
      seen.delete(planned.seq);
      if (!part) return;
      const short = (['source', 'destination'] as const).filter((side) => below(part[side], part.requiredBytes));
      const invalid = short.length
        ? `${short.map((side) => `the ${side} QEMU's locked-memory limit is ${(part[side] as { softBytes: number }).softBytes} bytes`).join(', ')}, below the ${part.requiredBytes} its guest pins`
        : undefined;
      return { parts: { memlock: part }, ...(invalid ? { invalid } : {}) };
    },
  };
}
