/** Reading a run directory for reporting: iterations.ndjson is required, manifest.json optional; both validated on read. */
import { basename, resolve } from 'node:path';
import { readIterations, readManifest } from '../results/store.ts';
import type { RunData } from './summary.ts';

export class RunDataError extends Error {}

export async function loadRun(dir: string): Promise<RunData> {
  const absolute = resolve(dir);
  const fail = (error: Error): never => {
    throw new RunDataError(error.message);
  };
  const { records, tornLines, seqFromFile } = await readIterations(absolute).catch(fail);
  const manifest = await readManifest(absolute).catch(fail);
  const runId = manifest?.runId ? manifest.runId : basename(absolute);
  return { runId, dir: absolute, manifest, records, tornLines, seqFromFile };
}
