/**
 * Reading a run directory for reporting: iterations.ndjson is required, manifest.json optional; both
 * validated on read. Probe logs (probes/NNNN.txt, lab in a box) are read when the directory has
 * them: only the part around each switchover is kept, and a log that is missing or unreadable is
 * noted for the report, never fatal.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { parseProbeLog, PROBE_DIR, probeLogName } from '../metrics/network.ts';
import { readIterations, readManifestLenient } from '../results/store.ts';
import type { IterationRecord } from '../results/types.ts';
import { probeWindow } from './model/probe-timeline.ts';
import type { ProbeWindow, RunData } from './model/types.ts';

export class RunDataError extends Error {}

export async function loadRun(dir: string): Promise<RunData> {
  const absolute = resolve(dir);
  const fail = (error: Error): never => {
    throw new RunDataError(error.message);
  };
  const { records, tornLines, seqFromFile, warnings } = await readIterations(absolute).catch(fail);
  const { manifest, warnings: manifestWarnings } = await readManifestLenient(absolute).catch(fail);
  const runId = manifest?.runId ? manifest.runId : basename(absolute);
  const probeLogs = await loadProbeLogs(absolute, records);
  const readWarnings = [...manifestWarnings, ...warnings];
  return {
    runId,
    dir: absolute,
    manifest,
    records,
    tornLines,
    seqFromFile,
    ...(readWarnings.length ? { readWarnings } : {}),
    ...(probeLogs ? { probeLogs } : {}),
  };
}

/** One log at a time, so a run's 36 logs of about a megabyte each never sit in memory together. */
async function loadProbeLogs(runDir: string, records: IterationRecord[]): Promise<RunData['probeLogs']> {
  const present = await readdir(join(runDir, PROBE_DIR)).then(
    () => true,
    () => false,
  );
  if (!present) return undefined;
  const logs: NonNullable<RunData['probeLogs']> = {};
  for (const record of records) logs[record.seq] = await probeLogOf(runDir, record);
  return logs;
}

/** The run-directory copy first (moved and copied run directories keep working), then the path the run recorded. */
async function probeLogOf(runDir: string, record: IterationRecord): Promise<ProbeWindow | { error: string }> {
  const own = join(PROBE_DIR, probeLogName(record.seq));
  const recorded = record.extra?.network?.log;
  const paths = [join(runDir, own), ...(recorded !== undefined && resolve(runDir, recorded) !== join(runDir, own) ? [resolve(runDir, recorded)] : [])];
  const shown = (path: string) => (relative(runDir, path).startsWith('..') ? path : relative(runDir, path));
  for (const path of paths) {
    const text = await readFile(path, 'utf8').catch(() => null);
    if (text === null) continue;
    try {
      return probeWindow(parseProbeLog(text), record, shown(path));
    } catch (error) {
      return { error: `${shown(path)}: ${(error as Error).message}` };
    }
  }
  return { error: `no probe log: ${paths.map(shown).join(' and ')} ${paths.length > 1 ? 'are' : 'is'} missing or unreadable` };
}
