/**
 * `merge`: shard run directories of one matrix become one run directory that reads as if it had
 * run in one piece (records in schedule order, every trace file, one manifest).
 */
import { cp, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readArgvLog } from '../results/argv-log.ts';
import { labFingerprint } from '../results/fingerprint.ts';
import { newRunId, readIterations, readManifest, RunStore } from '../results/store.ts';
import type { IterationRecord, RunManifest } from '../results/types.ts';
import { parseShard } from './shard.ts';

export class MergeError extends Error {}

/** One shard run directory as read: its manifest and its records. */
interface Shard {
  dir: string;
  manifest: RunManifest;
  records: IterationRecord[];
}

export async function mergeShards(
  dirs: readonly string[],
  outDir: string,
  runId?: string,
): Promise<{ dir: string; manifest: RunManifest; records: IterationRecord[]; notes: string[] }> {
  if (dirs.length === 0) throw new MergeError('merge needs the shard run directories');
  const shards = await readShards(dirs);
  const first = shards[0].manifest;
  const notes = checkShardsMakeOneRun(shards);
  const records = recordsInScheduleOrder(shards);

  const id = runId ?? newRunId(first.profile.name).replace(`${first.profile.name}-`, `${first.profile.name}-merged-`);
  const store = await RunStore.create(outDir, id);
  for (const { dir } of shards) await copyShardFiles(dir, store);
  for (const record of records) await store.appendIteration(record);
  const manifest = mergedManifest(shards, id, notes);
  await store.writeManifest(manifest);
  await store.close();
  return { dir: store.dir, manifest, records, notes };
}

async function readShards(dirs: readonly string[]): Promise<Shard[]> {
  const shards: Shard[] = [];
  for (const dir of dirs) {
    const manifest = await readManifest(dir);
    if (!manifest) throw new MergeError(`${dir}: no readable manifest.json`);
    if (!manifest.options.shard) throw new MergeError(`${dir}: run ${manifest.runId} is not a shard (it ran without --shard)`);
    const { records, tornLines } = await readIterations(dir);
    if (tornLines.length > 0 && manifest.state === 'completed') throw new MergeError(`${dir}: iterations.ndjson has torn lines ${tornLines.join(', ')}`);
    shards.push({ dir, manifest, records });
  }
  return shards;
}

/**
 * Refuses shards that are not one split of one run (another profile or options, a shard given
 * twice or missing); returns notes on what the merged run carries (shards not completed, labs
 * that differ).
 */
function checkShardsMakeOneRun(shards: readonly Shard[]): string[] {
  const first = shards[0].manifest;
  const notes: string[] = [];
  const sameOptions = (m: RunManifest) => JSON.stringify({ ...m.options, shard: undefined }) === JSON.stringify({ ...first.options, shard: undefined });
  const seen = new Map<number, string>();
  let count = 0;
  for (const { dir, manifest } of shards) {
    if (manifest.profile.sha256 !== first.profile.sha256)
      throw new MergeError(
        `${dir}: ran profile sha256 ${manifest.profile.sha256.slice(0, 12)}…, ${shards[0].dir} ran ${first.profile.sha256.slice(0, 12)}…: shards of one run use one profile`,
      );
    if (!sameOptions(manifest))
      throw new MergeError(`${dir}: ran with other options than ${shards[0].dir} (${JSON.stringify(manifest.options)} vs ${JSON.stringify(first.options)})`);
    const shard = parseShard(manifest.options.shard!);
    count ||= shard.count;
    if (shard.count !== count) throw new MergeError(`${dir}: shard ${manifest.options.shard} does not belong to a split into ${count}`);
    if (seen.has(shard.index)) throw new MergeError(`${dir}: shard ${manifest.options.shard} given twice (also ${seen.get(shard.index)})`);
    seen.set(shard.index, dir);
    if (manifest.state !== 'completed')
      notes.push(`shard ${manifest.options.shard} (${manifest.runId}) is ${manifest.state}${manifest.stateReason ? `: ${manifest.stateReason}` : ''}`);
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !seen.has(i));
  if (missing.length > 0)
    throw new MergeError(
      `shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')} missing: a merged run must cover the whole matrix`,
    );
  const fingerprints = new Set(shards.map((s) => labFingerprint(s.manifest).hash));
  if (fingerprints.size > 1)
    notes.push(
      `the shards ran on labs with different fingerprints (${[...fingerprints].join(', ')}): the merged run carries the first shard's host facts; each shard's are under shards[]`,
    );
  return notes;
}

function recordsInScheduleOrder(shards: readonly Shard[]): IterationRecord[] {
  const records = shards.flatMap((s) => s.records).sort((a, b) => a.seq - b.seq);
  for (let i = 1; i < records.length; i++)
    if (records[i].seq === records[i - 1].seq) throw new MergeError(`migration seq ${records[i].seq} appears in two shards`);
  return records;
}

/** Every trace, console and stderr file and started process of a shard into the merged run; two shards never share a trace file name. */
async function copyShardFiles(dir: string, store: RunStore): Promise<void> {
  const traces = await readdir(join(dir, 'traces')).catch(() => [] as string[]);
  const existing = new Set(await readdir(store.tracesDir));
  for (const name of traces) {
    if (existing.has(name)) throw new MergeError(`${dir}: trace file ${name} also comes from another shard`);
    await cp(join(dir, 'traces', name), join(store.tracesDir, name));
  }
  for (const sub of ['console', 'stderr']) {
    const files = await readdir(join(dir, sub)).catch(() => [] as string[]);
    if (files.length) await mkdir(join(store.dir, sub), { recursive: true });
    for (const name of files) await cp(join(dir, sub, name), join(store.dir, sub, name));
  }
  // what each shard started on its hosts, shard after shard, numbered anew
  for (const { schema: _schema, seq: _seq, ...command } of await readArgvLog(dir)) store.recordStarted(command);
}

/** The first shard's manifest, with the run's span, state, schedule and shards of all of them. */
function mergedManifest(shards: readonly Shard[], id: string, notes: readonly string[]): RunManifest {
  const first = shards[0].manifest;
  const states = shards.map((s) => s.manifest.state);
  const manifest: RunManifest = {
    ...first,
    runId: id,
    startedAt: shards.map((s) => s.manifest.startedAt).sort()[0],
    finishedAt:
      shards
        .map((s) => s.manifest.finishedAt ?? '')
        .sort()
        .at(-1) || null,
    state: states.includes('failed') ? 'failed' : states.includes('interrupted') || states.includes('running') ? 'interrupted' : 'completed',
    stateReason: notes.length ? notes.join('; ') : undefined,
    options: { ...first.options, shard: undefined },
    schedule: {
      blocks: shards.reduce((n, s) => n + (s.manifest.schedule?.blocks ?? 0), 0),
      migrations: shards.reduce((n, s) => n + (s.manifest.schedule?.migrations ?? 0), 0),
    },
    abandonedCells: shards.flatMap((s) => s.manifest.abandonedCells ?? []),
    mergedFrom: shards.map((s) => ({
      runId: s.manifest.runId,
      dir: s.dir,
      shard: s.manifest.options.shard,
      state: s.manifest.state,
      hosts: s.manifest.hosts,
      variants: s.manifest.variants,
      fingerprint: labFingerprint(s.manifest).hash,
    })),
  };
  delete manifest.options.shard;
  if (!manifest.stateReason) delete manifest.stateReason;
  return manifest;
}
