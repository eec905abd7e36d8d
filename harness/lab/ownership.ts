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
  processes: { pid: number; cmdline: string }[];
}

// Lists run directories with an owner record and our own processes whose command line points
// into one of them. NUL-separated argv is shown with spaces; matching happens on the harness side.
const SCAN_SCRIPT = String.raw`
set -u
workdir=$1
uid=$(id -u)
for owner in "$workdir"/*/vdpa-bench-owner.json; do
  [ -f "$owner" ] || continue
  printf 'OWNER\t%s\t%s\n' "$(dirname -- "$owner")" "$(tr -d '\n\t' < "$owner")"
done
# one grep over every command line (NUL-separated arguments as records), then only the matches are looked at
grep -lzF -- "$workdir/" /proc/[0-9]*/cmdline 2>/dev/null | while IFS= read -r f; do
  d=$(dirname -- "$f")
  [ "$(stat -c %u "$d" 2>/dev/null)" = "$uid" ] || continue
  cmd=$(tr '\0\n\t' '   ' < "$f" 2>/dev/null) || continue
  printf 'PROC\t%s\t%s\n' "$(basename -- "$d")" "$cmd"
done
`;

export async function scanHost(host: HostTransport, workdir: string): Promise<HostRunDir[]> {
  const result = await host.script(SCAN_SCRIPT, [workdir], { allowFailure: true, timeoutMs: 60_000 });
  const dirs = new Map<string, HostRunDir>();
  const processes: { pid: number; cmdline: string }[] = [];
  for (const line of result.stdout.split('\n')) {
    const [kind, a, ...rest] = line.split('\t');
    const b = rest.join('\t');
    if (kind === 'OWNER') {
      const owner = parseOwner(b);
      dirs.set(a, { dir: a, owner, liveness: owner ? holderLiveness(owner) : 'unknown', processes: [] });
    } else if (kind === 'PROC') {
      processes.push({ pid: Number(a), cmdline: b });
    }
  }
  for (const proc of processes) {
    if (!isQemu(proc.cmdline)) continue;
    for (const entry of dirs.values()) if (proc.cmdline.includes(`${entry.dir}/sock/`)) entry.processes.push(proc);
  }
  return [...dirs.values()];
}

// Re-checks the command line right before the kill: a pid can be reused between scan and kill.
const KILL_SCRIPT = String.raw`
set -u
pid=$1; marker=$2
cmd=$(tr '\0\n\t' '   ' < "/proc/$pid/cmdline" 2>/dev/null) || exit 0
case $cmd in *"$marker"*) kill -9 "$pid" 2>/dev/null ;; *) exit 0 ;; esac
for _ in $(seq 1 50); do [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || exit 0; sleep 0.1; done
echo "pid $pid did not exit"; exit 1
`;

// Processes of our uid whose command line contains the marker (NUL-separated argv shown with spaces).
const PROCESSES_WITH = String.raw`
set -u
uid=$(id -u)
grep -lzF -- "$1" /proc/[0-9]*/cmdline 2>/dev/null | while IFS= read -r f; do
  d=$(dirname -- "$f")
  [ "$(stat -c %u "$d" 2>/dev/null)" = "$uid" ] || continue
  cmd=$(tr '\0\n\t' '   ' < "$f" 2>/dev/null) || continue
  printf '%s\t%s\n' "$(basename -- "$d")" "$cmd"
done
`;

function isQemu(cmdline: string): boolean {
  return /qemu/.test(cmdline.split(' ')[0]?.split('/').pop() ?? '');
}

/**
 * Ends the QEMU processes of one run (ours by uid, its socket directory in their command line)
 * and removes its host directory; for a run whose lock holder is provably gone. Returns the pids.
 */
export async function endRunQemu(host: HostTransport, workdir: string, runId: string): Promise<number[]> {
  const runDir = join(workdir, runId);
  const marker = `${runDir}/sock/`;
  const listing = await host.script(PROCESSES_WITH, [marker], { allowFailure: true, timeoutMs: 60_000 });
  const ended: number[] = [];
  for (const line of listing.stdout.split('\n')) {
    const [pid, cmdline = ''] = line.split('\t');
    if (!pid || !isQemu(cmdline)) continue;
    await host.script(KILL_SCRIPT, [pid, marker], { timeoutMs: 30_000 });
    ended.push(Number(pid));
  }
  await host.run(['rm', '-rf', '--', runDir], { allowFailure: true });
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
export async function cleanLeftovers(host: HostTransport, workdir: string, options: { resumeRunId?: string; keepDirOf?: string; breakUnknown?: boolean; goneRunId?: string } = {}): Promise<CleanupReport[]> {
  const reports: CleanupReport[] = [];
  for (const entry of await scanHost(host, workdir)) {
    const runId = entry.owner?.runId ?? null;
    const report: CleanupReport = { host: host.hostName, runDir: entry.dir, runId, killed: [], removed: false };
    const gone = entry.liveness === 'dead' || (runId !== null && runId === options.goneRunId) || (entry.liveness === 'unknown' && options.breakUnknown === true && entry.owner !== null);
    if (!gone) {
      if (entry.owner?.pid !== process.pid) report.skipped = entry.liveness === 'alive' ? `its harness is running (${describeHolder(entry.owner!)})` : `its owner cannot be checked from here (${entry.owner ? describeHolder(entry.owner) : 'unreadable owner record'})`;
      if (report.skipped) reports.push(report);
      continue;
    }
    for (const proc of entry.processes) {
      await host.script(KILL_SCRIPT, [String(proc.pid), `${entry.dir}/sock/`], { timeoutMs: 30_000 });
      report.killed.push(proc.pid);
    }
    if (runId !== options.keepDirOf) {
      await host.run(['rm', '-rf', '--', entry.dir], { allowFailure: true });
      report.removed = true;
    }
    reports.push(report);
  }
  return reports;
}

export function describeCleanup(r: CleanupReport): string {
  if (r.skipped) return `${r.host}: left ${r.runDir} alone: ${r.skipped}`;
  const killed = r.killed.length > 0 ? `ended ${r.killed.length} leftover QEMU process${r.killed.length === 1 ? '' : 'es'} (pid ${r.killed.join(', ')})` : 'no leftover QEMU processes';
  return `${r.host}: run ${r.runId ?? '?'}: ${killed}${r.removed ? `, removed ${r.runDir}` : ''}`;
}
