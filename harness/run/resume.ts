/**
 * `run --resume <run-dir>`: what an interrupted run had done, checked against the profile it
 * started from, so that continuing it repeats no completed migration and changes nothing else.
 */
import { open, readFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedProfile } from '../profile/load.ts';
import { type Block } from '../migration/schedule.ts';
import { cellKey } from '../profile/cell.ts';
import { ITERATIONS_FILE, parseIterations, readManifest } from '../results/store.ts';
import type { IterationRecord, RunManifest } from '../results/types.ts';
import { parseShard, type Shard } from './shard.ts';

export const TORN_FILE = 'iterations.torn';

export interface AbandonedCell {
  cell: { variant: string; vmSize: string; queuePairs: number | null };
  reason: string;
  afterSeq: number;
  at: string;
}

export interface ResumeState {
  manifest: RunManifest;
  records: IterationRecord[];
  done: Set<number>;
  failureStreaks: Map<string, number>;
  abandonedCells: Set<string>;
  shard?: Shard;
  /** A torn last line was moved aside (its text is kept in iterations.torn). */
  repairedTornLine: boolean;
}

export class ResumeError extends Error {}

export async function loadResumeState(runDir: string, loaded: LoadedProfile): Promise<ResumeState> {
  const manifest = await readManifest(runDir);
  if (!manifest) throw new ResumeError(`${runDir}: no readable manifest.json: not a vdpa-bench run directory`);
  if (manifest.state === 'completed') throw new ResumeError(`${runDir}: run ${manifest.runId} already completed; nothing to resume`);
  if (manifest.profile.sha256 !== loaded.sha256) {
    throw new ResumeError(
      `${runDir}: the profile changed since run ${manifest.runId} started: ${loaded.file} has sha256 ${loaded.sha256.slice(0, 12)}…, ` +
        `the run used ${manifest.profile.sha256.slice(0, 12)}… (its text is in manifest.json under profile.text); resume with that exact profile or start a new run`,
    );
  }
  const repairedTornLine = await repairTornTail(runDir);
  const text = await readFile(join(runDir, ITERATIONS_FILE), 'utf8').catch(() => '');
  const { records } = parseIterations(text);
  records.sort((a, b) => a.seq - b.seq);
  const done = new Set(records.map((r) => r.seq));
  const failureStreaks = new Map<string, number>();
  for (const r of records) {
    const key = cellKey(r);
    failureStreaks.set(key, r.status === 'ok' ? 0 : (failureStreaks.get(key) ?? 0) + 1);
  }
  const abandoned = (manifest.abandonedCells as AbandonedCell[] | undefined) ?? [];
  return {
    manifest,
    records,
    done,
    failureStreaks,
    abandonedCells: new Set(abandoned.map((a) => cellKey(a.cell))),
    shard: manifest.options.shard ? parseShard(manifest.options.shard) : undefined,
    repairedTornLine,
  };
}

/** Every recorded migration must be one the rebuilt schedule has, in the same cell. */
export function checkScheduleMatches(blocks: readonly Block[], state: ResumeState): void {
  const planned = new Map(blocks.flatMap((b) => b.migrations).map((m) => [m.seq, m]));
  for (const r of state.records) {
    const m = planned.get(r.seq);
    if (!m || cellKey(m.cell) !== cellKey(r) || m.warmup !== r.warmup) {
      throw new ResumeError(
        `recorded migration seq ${r.seq} (${r.variant} ${r.vmSize}) is not in the schedule rebuilt from the manifest's options: the run directory and profile do not belong together`,
      );
    }
  }
  const expected = (state.manifest.schedule as { migrations?: number } | undefined)?.migrations;
  if (expected !== undefined && expected !== planned.size) {
    throw new ResumeError(`the schedule rebuilt from the manifest has ${planned.size} migrations, the run planned ${expected}`);
  }
}

/**
 * The writer appends whole lines and syncs, so only the last line can be torn (a crash mid
 * write). Appending after it would glue the next record onto the fragment: move it aside first.
 */
async function repairTornTail(runDir: string): Promise<boolean> {
  const path = join(runDir, ITERATIONS_FILE);
  const text = await readFile(path, 'utf8').catch(() => null);
  if (text === null || text === '' || text.endsWith('\n')) return false;
  const keep = text.lastIndexOf('\n') + 1;
  await appendFile(join(runDir, TORN_FILE), `${new Date().toISOString()} torn last line moved aside on resume: ${text.slice(keep)}\n`);
  const handle = await open(path, 'r+');
  try {
    await handle.truncate(Buffer.byteLength(text.slice(0, keep)));
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return true;
}
