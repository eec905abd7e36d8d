/** A results history is a directory of plain run directories; this reads it. */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readIterations, readManifest } from '../results/store.ts';
import type { IterationRecord, RunManifest } from '../results/types.ts';
import { labFingerprint, type Fingerprint } from '../results/fingerprint.ts';

export interface HistoryRun {
  dir: string;
  manifest: RunManifest;
  fingerprint: Fingerprint;
  records: IterationRecord[];
  tornLines: number[];
}

export async function loadRun(dir: string): Promise<HistoryRun> {
  const manifest = await readManifest(dir);
  if (!manifest) throw new Error(`${dir}: no readable manifest.json (not a vdpa-bench run directory)`);
  const { records, tornLines } = await readIterations(dir).catch(() => ({ records: [] as IterationRecord[], tornLines: [] as number[] }));
  return { dir, manifest, fingerprint: labFingerprint(manifest), records, tornLines };
}

/** Every run directory directly inside `dir`, oldest first; unreadable entries are skipped and named. */
export async function loadHistory(dir: string): Promise<{ runs: HistoryRun[]; skipped: string[] }> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const runs: HistoryRun[] = [];
  const skipped: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const path = join(dir, entry.name);
    try {
      runs.push(await loadRun(path));
    } catch (error) {
      skipped.push(`${path}: ${(error as Error).message}`);
    }
  }
  runs.sort((a, b) => a.manifest.startedAt.localeCompare(b.manifest.startedAt));
  return { runs, skipped };
}
