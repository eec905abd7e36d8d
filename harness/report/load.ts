/** Reading a run directory for reporting: iterations.ndjson is required, manifest.json optional. */
import { basename, resolve } from 'node:path';
import { ITERATIONS_FILE, readIterations, readManifest } from '../results/store.ts';
import type { IterationRecord } from '../results/types.ts';
import type { RunData } from './summary.ts';

export class RunDataError extends Error {}

/** The fields a report cannot do without; everything else may be missing and shows as unknown. */
export function checkRecord(record: unknown, position: number): string | null {
  const r = record as Partial<IterationRecord> | null;
  if (!r || typeof r !== 'object' || Array.isArray(r)) return `record ${position}: not a JSON object`;
  const missing: string[] = [];
  if (typeof r.seq !== 'number') missing.push('seq (number)');
  if (typeof r.variant !== 'string') missing.push('variant (string)');
  if (typeof r.vmSize !== 'string') missing.push('vmSize (string)');
  if (!['ok', 'failed', 'invalid'].includes(r.status as string)) missing.push('status (ok, failed or invalid)');
  return missing.length ? `record ${position}${typeof r.seq === 'number' ? ` (seq ${r.seq})` : ''}: missing or wrong ${missing.join(', ')}` : null;
}

export async function loadRun(dir: string): Promise<RunData> {
  const absolute = resolve(dir);
  const { records, tornLines } = await readIterations(absolute).catch((error: Error) => {
    throw new RunDataError(error.message);
  });
  const problems = records.map((r, i) => checkRecord(r, i + 1)).filter((p): p is string => p !== null);
  if (problems.length) throw new RunDataError(`${absolute}/${ITERATIONS_FILE}: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`);
  for (const r of records) {
    r.queuePairs ??= null;
    r.warmup = Boolean(r.warmup);
    r.metrics ??= {};
  }
  const manifest = await readManifest(absolute);
  const runId = typeof manifest?.runId === 'string' && manifest.runId ? manifest.runId : basename(absolute);
  return { runId, dir: absolute, manifest, records, tornLines };
}
