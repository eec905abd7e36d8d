/**
 * The results store: one directory per run. iterations.ndjson is append-only and synced after
 * every migration, so a crash of anything loses nothing that completed.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, writeFile, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { IterationRecord, RunManifest } from './types.ts';

export const ITERATIONS_FILE = 'iterations.ndjson';
export const MANIFEST_FILE = 'manifest.json';

export function newRunId(profileName: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${profileName}-${stamp}-${randomBytes(2).toString('hex')}`;
}

export class RunStore {
  private iterations?: FileHandle;

  private constructor(readonly dir: string) {}

  static async create(baseDir: string, runId: string): Promise<RunStore> {
    const dir = resolve(baseDir, runId);
    await mkdir(join(dir, 'traces'), { recursive: true });
    return new RunStore(dir);
  }

  static async open(dir: string): Promise<RunStore> {
    const store = new RunStore(resolve(dir));
    await mkdir(join(store.dir, 'traces'), { recursive: true });
    return store;
  }

  get tracesDir(): string {
    return join(this.dir, 'traces');
  }

  async writeManifest(manifest: RunManifest): Promise<void> {
    const tmp = join(this.dir, `.${MANIFEST_FILE}.tmp`);
    await writeFile(tmp, JSON.stringify(manifest, null, 2) + '\n');
    await rename(tmp, join(this.dir, MANIFEST_FILE));
  }

  async appendIteration(record: IterationRecord): Promise<void> {
    this.iterations ??= await open(join(this.dir, ITERATIONS_FILE), 'a');
    await this.iterations.write(JSON.stringify(record) + '\n');
    await this.iterations.datasync();
  }

  /** A file of this run, by its path relative to the run directory. */
  readText(relative: string): Promise<string> {
    return readFile(join(this.dir, relative), 'utf8');
  }

  async close(): Promise<void> {
    await this.iterations?.close();
    this.iterations = undefined;
  }
}

export interface ReadIterations {
  records: IterationRecord[];
  /** Lines that were not complete JSON (a torn last line after a crash). */
  tornLines: number[];
}

export function parseIterations(text: string): ReadIterations {
  const records: IterationRecord[] = [];
  const tornLines: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      records.push(JSON.parse(line) as IterationRecord);
    } catch {
      tornLines.push(i + 1);
    }
  });
  return { records, tornLines };
}

export async function readIterations(runDir: string): Promise<ReadIterations> {
  const text = await readFile(join(runDir, ITERATIONS_FILE), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new Error(`${runDir}: no ${ITERATIONS_FILE} (is this a vdpa-bench run directory?)`);
    throw error;
  });
  return parseIterations(text);
}

export async function readManifest(runDir: string): Promise<RunManifest | null> {
  try {
    return JSON.parse(await readFile(join(runDir, MANIFEST_FILE), 'utf8')) as RunManifest;
  } catch {
    return null;
  }
}
