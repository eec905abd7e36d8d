/**
 * argv.ndjson: every process a run started on every host, one JSON line each, in the order they
 * were started (QEMU, probers, lock holders, clock responders, set-up steps, checks). What the
 * transports were handed, byte for byte, and how each transport ran it: the record `plan` is
 * compared with, and what to re-run by hand.
 */
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

export const ARGV_FILE = 'argv.ndjson';
export const ARGV_SCHEMA = 'vdpa-bench/argv@1';

export const startedCommandSchema = z.strictObject({
  host: z.string().describe('the profile host it ran on'),
  transport: z.enum(['local', 'ssh', 'netns']).describe("the host's transport"),
  via: z
    .enum(['run', 'script', 'start', 'stream'])
    .describe('run: a command waited for; script: bash -s with a script on stdin; start: a long-running process; stream: a process talked to line by line'),
  role: z.string().describe('what it is for when its starter says (qemu, prober); else the same as via'),
  argv: z.array(z.string()).describe('the argument vector handed to the transport (what runs on the host, in its namespace)'),
  shown: z.string().describe("the command as the transport runs it (ip netns exec …, ssh … '…'), as `plan` prints it"),
  stdin: z.strictObject({ bytes: z.number().int(), sha256: z.string() }).optional().describe('its standard input (a script), by size and hash'),
  startedAt: z.string().describe('ISO time the harness asked for it'),
});

export const argvEntrySchema = startedCommandSchema.extend({
  schema: z.literal(ARGV_SCHEMA),
  seq: z.number().int().positive().describe('1, 2, … in the order the run started them (a resumed run goes on counting)'),
});

export type StartedCommand = z.infer<typeof startedCommandSchema>;
export type ArgvEntry = z.infer<typeof argvEntrySchema>;

/** Appends entries in the order they were told; a write never blocks the command it describes. */
export class ArgvLog {
  private handle: Promise<FileHandle> | undefined;
  private writing: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;

  private constructor(
    private readonly file: string,
    private seq: number,
  ) {}

  /** The run directory's log, continued after the entries it already has. */
  static async open(runDir: string): Promise<ArgvLog> {
    const file = join(runDir, ARGV_FILE);
    const existing = await readFile(file, 'utf8').catch(() => '');
    return new ArgvLog(file, existing.split('\n').filter((l) => l.trim()).length);
  }

  append(command: StartedCommand): void {
    const line = JSON.stringify({ schema: ARGV_SCHEMA, seq: ++this.seq, ...command }) + '\n';
    this.handle ??= open(this.file, 'a');
    const handle = this.handle;
    this.writing = this.writing.then(async () => (await handle).write(line)).catch((error: Error) => (this.failure ??= error));
  }

  /** Waits for what was appended; a write that failed is an error here, not a silently short list. */
  async close(): Promise<void> {
    await this.writing;
    if (this.handle) await (await this.handle).close();
    this.handle = undefined;
    if (this.failure) throw new Error(`${this.file}: ${this.failure.message}`);
  }
}

/** The run's started processes, validated, in order; [] for a run recorded before the file existed. */
export async function readArgvLog(runDir: string): Promise<ArgvEntry[]> {
  const text = await readFile(join(runDir, ARGV_FILE), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((line, i) => {
      const parsed = argvEntrySchema.safeParse(JSON.parse(line));
      if (!parsed.success)
        throw new Error(`${join(runDir, ARGV_FILE)} line ${i + 1}: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
      return parsed.data;
    });
}
