/**
 * The results store: one directory per run. iterations.ndjson is append-only and synced after
 * every migration, so a crash of anything loses nothing that completed.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, writeFile, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { ArgvLog, type StartedCommand } from './argv-log.ts';
import {
  describeIssues,
  ITERATION_SCHEMA,
  iterationRecordSchema,
  MANIFEST_SCHEMA,
  manifestReadSchema,
  runManifestSchema,
  splitUnknownFields,
} from './schema.ts';
import type { IterationRecord, ManifestRead, RunManifest } from './types.ts';

export const ITERATIONS_FILE = 'iterations.ndjson';
export const MANIFEST_FILE = 'manifest.json';

export function newRunId(profileName: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${profileName}-${stamp}-${randomBytes(2).toString('hex')}`;
}

export class RunStore {
  private iterations?: FileHandle;

  private constructor(
    readonly dir: string,
    private readonly argv: ArgvLog,
  ) {}

  static async create(baseDir: string, runId: string): Promise<RunStore> {
    const dir = resolve(baseDir, runId);
    await mkdir(join(dir, 'traces'), { recursive: true });
    return new RunStore(dir, await ArgvLog.open(dir));
  }

  static async open(dir: string): Promise<RunStore> {
    await mkdir(join(resolve(dir), 'traces'), { recursive: true });
    return new RunStore(resolve(dir), await ArgvLog.open(resolve(dir)));
  }

  get tracesDir(): string {
    return join(this.dir, 'traces');
  }

  async writeManifest(manifest: RunManifest): Promise<void> {
    const tmp = join(this.dir, `.${MANIFEST_FILE}.tmp`);
    await writeFile(tmp, JSON.stringify({ schema: MANIFEST_SCHEMA, ...manifest }, null, 2) + '\n');
    await rename(tmp, join(this.dir, MANIFEST_FILE));
  }

  async appendIteration(record: IterationRecord): Promise<void> {
    this.iterations ??= await open(join(this.dir, ITERATIONS_FILE), 'a');
    await this.iterations.write(JSON.stringify({ schema: ITERATION_SCHEMA, ...record }) + '\n');
    await this.iterations.datasync();
  }

  /** A file of this run, by its path relative to the run directory. */
  readText(relative: string): Promise<string> {
    return readFile(join(this.dir, relative), 'utf8');
  }

  /** A process the run started on a host, appended to argv.ndjson (argv-log.ts). */
  recordStarted(command: StartedCommand): void {
    this.argv.append(command);
  }

  async close(): Promise<void> {
    await this.iterations?.close();
    this.iterations = undefined;
    await this.argv.close();
  }
}

export interface ReadIterations {
  records: IterationRecord[];
  /** Lines that were not complete JSON (a torn last line after a crash). */
  tornLines: number[];
  /** Whether seq was missing and taken from the file order. */
  seqFromFile: boolean;
  /** What was read leniently: fields this version does not know (kept on the records), empty qmp objects. */
  warnings: string[];
}

/** A failed migration from another lab may carry `qmp: {}`: no QMP figures, as null says; figures it does give are kept. */
function lenientQmp(value: Record<string, unknown>): void {
  const qmp = value.qmp;
  if (qmp === null || typeof qmp !== 'object' || Array.isArray(qmp)) return;
  if (Object.keys(qmp).length === 0) value.qmp = null;
  else value.qmp = { downtimeMs: null, totalTimeMs: null, setupTimeMs: null, ...qmp };
}

export class ResultsFormatError extends Error {}

/**
 * Records in the documented format, validated and completed: seq from the file order and blocks
 * from runs of one cell where a lab does not record them, counts within a cell, and "downtimeMs"
 * as the primary metric where none is named. A record that does not validate is an error naming
 * its line and field; a line that is not JSON at all is a torn write and is only reported.
 */
export function parseIterations(text: string): ReadIterations {
  const records: IterationRecord[] = [];
  const tornLines: number[] = [];
  const problems: string[] = [];
  let seqFromFile = false;
  const unknownAt = new Map<string, number[]>();
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      tornLines.push(i + 1);
      return;
    }
    const { known, unknown } = splitUnknownFields(value, iterationRecordSchema);
    if (known && typeof known === 'object') lenientQmp(known as Record<string, unknown>);
    const parsed = iterationRecordSchema.safeParse(known);
    if (!parsed.success) {
      problems.push(`line ${i + 1}: ${describeIssues(parsed.error)}`);
      return;
    }
    seqFromFile ||= parsed.data.seq === undefined;
    for (const key of Object.keys(unknown)) unknownAt.set(key, [...(unknownAt.get(key) ?? []), i + 1]);
    records.push({ ...completeRecord(parsed.data, records), ...unknown });
  });
  const warnings = [...unknownAt].map(([key, lines]) => `${ITERATIONS_FILE}: field "${key}" is not in the record format; kept as it is (${linesText(lines)})`);
  if (problems.length)
    throw new ResultsFormatError(
      `${ITERATIONS_FILE} does not match the record format (docs/schemas/iteration-record.schema.json): ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`,
    );
  return { records, tornLines, seqFromFile, warnings };
}

const linesText = (lines: number[]) => (lines.length === 1 ? `line ${lines[0]}` : `${lines.length} lines, first ${lines[0]}`);

function completeRecord(input: z.output<typeof iterationRecordSchema>, earlier: IterationRecord[]): IterationRecord {
  const previous = earlier.at(-1);
  const sameCell = (r: IterationRecord) => r.variant === input.variant && r.vmSize === input.vmSize && r.queuePairs === (input.queuePairs ?? null);
  const warmup = input.warmup ?? false;
  const block = input.block ?? (previous && sameCell(previous) ? previous.block : (previous?.block ?? 0) + 1);
  return {
    ...input,
    seq: input.seq ?? earlier.length + 1,
    block,
    queuePairs: input.queuePairs ?? null,
    iteration: input.iteration ?? earlier.filter((r) => sameCell(r) && r.warmup === warmup).length + 1,
    warmup,
    from: input.from ?? 'unknown',
    to: input.to ?? 'unknown',
    downtimeMs: input.downtimeMs ?? null,
    primaryMetric: input.primaryMetric ?? 'downtimeMs',
    metrics: input.metrics ?? {},
    qmp: input.qmp ?? null,
    traces: input.traces ?? { source: '', destination: '' },
    accel: input.accel ?? 'unknown',
    destinationQmpReadyMs: input.destinationQmpReadyMs ?? null,
    startedAt: input.startedAt ?? '',
    finishedAt: input.finishedAt ?? '',
  };
}

export async function readIterations(runDir: string): Promise<ReadIterations> {
  const text = await readFile(join(runDir, ITERATIONS_FILE), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new Error(`${runDir}: no ${ITERATIONS_FILE} (is this a vdpa-bench run directory?)`);
    throw error;
  });
  try {
    return parseIterations(text);
  } catch (error) {
    throw new ResultsFormatError(`${runDir}/${(error as Error).message}`);
  }
}

async function manifestJson(runDir: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(join(runDir, MANIFEST_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ResultsFormatError(`${runDir}/${MANIFEST_FILE}: not JSON (${(error as Error).message})`);
  }
}

/**
 * The manifest as reports read it: any subset of the fields (what is missing shows as unknown),
 * fields this version does not know kept and named in a warning. Null when there is none.
 */
export async function readManifestLenient(runDir: string): Promise<{ manifest: ManifestRead | null; warnings: string[] }> {
  const value = await manifestJson(runDir);
  if (value === undefined) return { manifest: null, warnings: [] };
  const { known, unknown } = splitUnknownFields(value, manifestReadSchema);
  const parsed = manifestReadSchema.safeParse(known);
  if (!parsed.success)
    throw new ResultsFormatError(
      `${runDir}/${MANIFEST_FILE} does not match the manifest format (docs/schemas/manifest.schema.json): ${describeIssues(parsed.error)}`,
    );
  const warnings = Object.keys(unknown).map((key) => `${MANIFEST_FILE}: field "${key}" is not in the manifest format; kept as it is`);
  return { manifest: { ...parsed.data, ...unknown }, warnings };
}

/** The run's manifest as vdpa-bench writes it, validated (resume, merge, nightly need all of it); null when there is none. */
export async function readManifest(runDir: string): Promise<RunManifest | null> {
  const value = await manifestJson(runDir);
  if (value === undefined) return null;
  const parsed = runManifestSchema.safeParse(value);
  if (!parsed.success)
    throw new ResultsFormatError(
      `${runDir}/${MANIFEST_FILE} does not match the manifest format (docs/schemas/manifest.schema.json): ${describeIssues(parsed.error)}`,
    );
  return parsed.data;
}
