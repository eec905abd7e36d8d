/**
 * Who is running on a lab host, and what a dead harness left behind.
 *
 * Each host's workdir holds `vdpa-bench.lock` (one run per lab at a time, see lock.ts) and, per run,
 * `<runId>/vdpa-bench-owner.json`. A QEMU process belongs to a run when its command line points
 * into that run's directory (its QMP socket lives in `<workdir>/<runId>/sock/`) and it runs
 * under our uid: that is the proof required before ending it. A lock or owner record is stale
 * only when its harness process is provably gone (same controller machine, pid not a vdpa-bench
 * process any more); a holder on another controller is reported, never assumed dead.
 */
import { hostname, userInfo } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostTransport } from '../hosts/transport.ts';
import { endQemuProcess, endQemuProcesses, findQemuProcesses, type QemuProcess } from '../qemu/processes.ts';
import { runCommand } from '../hosts/command.ts';
import { removeRunDirectory } from '../migration/run-directory.ts';

export const LOCK_FILE = 'vdpa-bench.lock';
export const OWNER_FILE = 'vdpa-bench-owner.json';

/** What the lock and the owner record say about the harness process holding them. */
export interface OwnerRecord {
  runId: string;
  user: string;
  pid: number;
  /** The machine the harness runs on (it may differ from the lab host). */
  controller: string;
  startedAt: string;
  command?: string[];
}

export type Liveness = 'alive' | 'dead' | 'unknown';

export function ownerRecord(runId: string, command: string[] = process.argv.slice(1)): OwnerRecord {
  return { runId, user: userInfo().username, pid: process.pid, controller: hostname(), startedAt: new Date().toISOString(), command };
}

/** Whether the harness process an owner record names still runs (only provable on the same controller). */
export function holderLiveness(owner: OwnerRecord): Liveness {
  if (owner.controller !== hostname()) return 'unknown';
  if (owner.pid === process.pid) return 'alive';
  try {
    const cmdline = readFileSync(`/proc/${owner.pid}/cmdline`, 'utf8');
    // pids are reused: a live pid that is not a vdpa-bench harness means the holder is gone
    return /vdpa-bench|harness\/cli|\bava\b|\btsx\b/.test(cmdline) ? 'alive' : 'dead';
  } catch {
    return 'dead';
  }
}

export class LabBusyError extends Error {
  constructor(
    message: string,
    readonly holder: OwnerRecord | null,
    readonly stale: boolean,
  ) {
    super(message);
    this.name = 'LabBusyError';
  }
}

export function describeHolder(holder: OwnerRecord): string {
  return `run ${holder.runId} by ${holder.user}, pid ${holder.pid} on ${holder.controller}, started ${holder.startedAt}`;
}

export async function readLock(host: HostTransport, workdir: string): Promise<{ text: string; holder: OwnerRecord | null } | null> {
  const result = await host.run(['cat', '--', join(workdir, LOCK_FILE)], { allowFailure: true, timeoutMs: 30_000 });
  if (result.exitCode !== 0) return null;
  return { text: result.stdout.trim(), holder: parseOwner(result.stdout.trim()) };
}

export async function writeOwnerRecord(host: HostTransport, hostRunDir: string, owner: OwnerRecord): Promise<void> {
  await host.script(`set -eu\nmkdir -p -- "$1"\nprintf '%s\\n' "$2" > "$1/${OWNER_FILE}"\n`, [hostRunDir, JSON.stringify(owner)], { timeoutMs: 30_000 });
}

export function parseOwner(text: string): OwnerRecord | null {
  try {
    const value = JSON.parse(text) as Partial<OwnerRecord>;
    if (typeof value.runId === 'string' && typeof value.pid === 'number' && typeof value.controller === 'string') return value as OwnerRecord;
  } catch {
    // not ours
  }
  return null;
}

/** One run directory on a host and the QEMU processes that provably belong to it. */
export interface HostRunDir {
  dir: string;
  owner: OwnerRecord | null;
  liveness: Liveness;
  processes: QemuProcess[];
}

// Lists run directories with an owner record (the record's text on one line).
const OWNERS_SCRIPT = String.raw`
set -u
workdir=$1
for owner in "$workdir"/*/vdpa-bench-owner.json; do
  [ -f "$owner" ] || continue
  printf '%s\t%s\n' "$(dirname -- "$owner")" "$(tr -d '\n\t' < "$owner")"
done
`;

export async function scanHost(host: HostTransport, workdir: string): Promise<HostRunDir[]> {
  const result = await host.script(OWNERS_SCRIPT, [workdir], { allowFailure: true, timeoutMs: 60_000 });
  const dirs = new Map<string, HostRunDir>();
  for (const line of result.stdout.split('\n').filter(Boolean)) {
    const [dir, ...record] = line.split('\t');
    const owner = parseOwner(record.join('\t'));
    dirs.set(dir, { dir, owner, liveness: owner ? holderLiveness(owner) : 'unknown', processes: [] });
  }
  if (dirs.size === 0) return [];
  for (const proc of await findQemuProcesses(host, `${workdir}/`)) {
    for (const entry of dirs.values()) if (proc.cmdline.includes(`${entry.dir}/sock/`)) entry.processes.push(proc);
  }
  return [...dirs.values()];
}

/**
 * Ends the QEMU processes of one run (ours by uid, its socket directory in their command line)
 * and removes its host directory; for a run whose lock holder is provably gone. Returns the pids.
 */
export async function endRunQemu(host: HostTransport, workdir: string, runId: string): Promise<number[]> {
  const runDir = join(workdir, runId);
  const ended = await endQemuProcesses(host, `${runDir}/sock/`);
  await runCommand(host, removeRunDirectory(host, runDir));
  return ended;
}

export interface CleanupReport {
  host: string;
  runDir: string;
  runId: string | null;
  killed: number[];
  removed: boolean;
  skipped?: string;
}

/**
 * Ends the QEMU processes of run directories whose harness is gone and removes those
 * directories. `goneRunId` names a run proven gone another way (its lock was free), wherever
 * its harness ran.
 */
export async function cleanLeftovers(
  host: HostTransport,
  workdir: string,
  options: { resumeRunId?: string; keepDirOf?: string; breakUnknown?: boolean; goneRunId?: string } = {},
): Promise<CleanupReport[]> {
  const reports: CleanupReport[] = [];
  for (const entry of await scanHost(host, workdir)) {
    const runId = entry.owner?.runId ?? null;
    const report: CleanupReport = { host: host.hostName, runDir: entry.dir, runId, killed: [], removed: false };
    const gone =
      entry.liveness === 'dead' ||
      (runId !== null && runId === options.goneRunId) ||
      (entry.liveness === 'unknown' && options.breakUnknown === true && entry.owner !== null);
    if (!gone) {
      if (entry.owner?.pid !== process.pid)
        report.skipped =
          entry.liveness === 'alive'
            ? `its harness is running (${describeHolder(entry.owner!)})`
            : `its owner cannot be checked from here (${entry.owner ? describeHolder(entry.owner) : 'unreadable owner record'})`;
      if (report.skipped) reports.push(report);
      continue;
    }
    for (const proc of entry.processes) {
      await endQemuProcess(host, proc.pid, `${entry.dir}/sock/`);
      report.killed.push(proc.pid);
    }
    if (runId !== options.keepDirOf) {
      await runCommand(host, removeRunDirectory(host, entry.dir));
      report.removed = true;
    }
    reports.push(report);
  }
  return reports;
}

export function describeCleanup(r: CleanupReport): string {
  if (r.skipped) return `${r.host}: left ${r.runDir} alone: ${r.skipped}`;
  const killed =
    r.killed.length > 0
      ? `ended ${r.killed.length} leftover QEMU process${r.killed.length === 1 ? '' : 'es'} (pid ${r.killed.join(', ')})`
      : 'no leftover QEMU processes';
  return `${r.host}: run ${r.runId ?? '?'}: ${killed}${r.removed ? `, removed ${r.runDir}` : ''}`;
}
