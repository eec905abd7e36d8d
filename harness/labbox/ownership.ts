/**
 * Ownership records for namespaces the harness creates. A record is written BEFORE the
 * namespaces exist and removed after they are gone, so a crash at any point leaves a record that
 * names everything that may be left over. A record whose owner process is gone (pid dead, or
 * reused by another process: the start time differs) proves the leftovers are ours to remove.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface OwnershipRecord {
  token: string;
  pid: number;
  /** /proc/<pid>/stat start time (clock ticks after boot): tells a reused pid apart. */
  pidStart: string;
  namespaces: string[];
  createdAt: string;
  command: string;
}

export function stateDir(): string {
  return process.env.VDPA_BENCH_STATE ?? '/run/vdpa-bench/labs';
}

/** Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
export function startTimeFromStat(stat: string): string {
  const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return afterName[19];
}

export async function processStartTime(pid: number): Promise<string | null> {
  try {
    return startTimeFromStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

export async function writeRecord(record: OwnershipRecord): Promise<void> {
  await mkdir(stateDir(), { recursive: true });
  const path = join(stateDir(), `${record.token}.json`);
  await writeFile(`${path}.tmp`, JSON.stringify(record, null, 2) + '\n');
  await rename(`${path}.tmp`, path);
}

export async function removeRecord(token: string): Promise<void> {
  await rm(join(stateDir(), `${token}.json`), { force: true });
}

export async function readRecords(): Promise<{ record?: OwnershipRecord; file: string; error?: string }[]> {
  let files: string[];
  try {
    files = (await readdir(stateDir())).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return Promise.all(
    files.map(async (file) => {
      try {
        return { file, record: JSON.parse(await readFile(join(stateDir(), file), 'utf8')) as OwnershipRecord };
      } catch (error) {
        return { file, error: (error as Error).message };
      }
    }),
  );
}

export async function ownerAlive(record: OwnershipRecord): Promise<boolean> {
  const start = await processStartTime(record.pid);
  return start !== null && start === record.pidStart;
}
