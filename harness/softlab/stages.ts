/**
 * A small build-stage runner: stages declare what they depend on and a key (a fingerprint of
 * their inputs); a stage whose stamp holds the same key and whose dependencies were not rebuilt
 * is cached. Independent stages run at the same time. Every stage is timed.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

export interface StageContext {
  /** Runs argv, its output going to the stage's log; throws with the log's tail on failure. */
  exec(argv: readonly string[], options?: { input?: string; env?: Record<string, string>; cwd?: string }): Promise<string>;
  log(line: string): void;
}

export interface Stage {
  name: string;
  description: string;
  after: readonly string[];
  /** Changes when the stage's inputs change (packages, file contents, script version). */
  key: string;
  run(ctx: StageContext): Promise<void>;
  /** Files that must exist for a cached stage to count as built. */
  outputs?: readonly string[];
}

export interface StageTiming {
  name: string;
  cached: boolean;
  seconds: number;
}

export interface StageRunnerOptions {
  stampsDir: string;
  logsDir: string;
  force?: boolean;
  print: (line: string) => void;
  /** How often a running stage reports its latest output line. */
  heartbeatMs?: number;
}

export class StageError extends Error {
  constructor(
    readonly stage: string,
    message: string,
  ) {
    super(`stage ${stage}: ${message}`);
    this.name = 'StageError';
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Orders stages so that each comes after its dependencies; rejects unknown names and cycles. */
export function stageOrder(stages: readonly Stage[]): Stage[] {
  const byName = new Map(stages.map((s) => [s.name, s]));
  const order: Stage[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (s: Stage, path: string[]) => {
    if (state.get(s.name) === 'done') return;
    if (state.get(s.name) === 'visiting') throw new Error(`stage cycle: ${[...path, s.name].join(' -> ')}`);
    state.set(s.name, 'visiting');
    for (const dep of s.after) {
      const d = byName.get(dep);
      if (!d) throw new Error(`stage ${s.name} depends on unknown stage ${dep}`);
      visit(d, [...path, s.name]);
    }
    state.set(s.name, 'done');
    order.push(s);
  };
  for (const s of stages) visit(s, []);
  return order;
}

export async function runStages(stages: readonly Stage[], o: StageRunnerOptions): Promise<StageTiming[]> {
  const ordered = stageOrder(stages);
  await mkdir(o.stampsDir, { recursive: true });
  await mkdir(o.logsDir, { recursive: true });
  const timings = new Map<string, StageTiming>();
  const finished = new Map<string, Promise<{ rebuilt: boolean }>>();

  const runOne = async (stage: Stage): Promise<{ rebuilt: boolean }> => {
    const deps = await Promise.all(stage.after.map((d) => finished.get(d)!));
    const stampPath = join(o.stampsDir, stage.name);
    const stamp = await readFile(stampPath, 'utf8').catch(() => null);
    const outputsPresent = (await Promise.all((stage.outputs ?? []).map(exists))).every(Boolean);
    if (!o.force && !deps.some((d) => d.rebuilt) && stamp === stage.key && outputsPresent) {
      timings.set(stage.name, { name: stage.name, cached: true, seconds: 0 });
      o.print(`· ${stage.name}: cached`);
      return { rebuilt: false };
    }
    await rm(stampPath, { force: true });
    const logPath = join(o.logsDir, `${stage.name}.log`);
    const logStream = createWriteStream(logPath, { flags: 'w' });
    let lastLine = '';
    const started = performance.now();
    o.print(`▸ ${stage.name}: ${stage.description}`);
    const heartbeat = setInterval(() => {
      const s = ((performance.now() - started) / 1000).toFixed(0);
      o.print(`  … ${stage.name} ${s} s${lastLine ? `: ${lastLine.slice(0, 100)}` : ''}`);
    }, o.heartbeatMs ?? 15_000);
    const ctx: StageContext = {
      exec: (argv, options = {}) => execLogged(argv, options, { log: logStream, onLine: (line) => (lastLine = line), stage: stage.name, logPath }),
      log: (line) => {
        logStream.write(line + '\n');
        o.print(`  ${stage.name}: ${line}`);
      },
    };
    try {
      await stage.run(ctx);
    } catch (error) {
      o.print(`✗ ${stage.name} failed after ${((performance.now() - started) / 1000).toFixed(1)} s: ${(error as Error).message}`);
      throw error;
    } finally {
      clearInterval(heartbeat);
      await new Promise((r) => logStream.end(r));
    }
    const seconds = (performance.now() - started) / 1000;
    await writeFile(stampPath, stage.key);
    timings.set(stage.name, { name: stage.name, cached: false, seconds });
    o.print(`✓ ${stage.name}: ${seconds.toFixed(1)} s`);
    return { rebuilt: true };
  };

  for (const stage of ordered) finished.set(stage.name, runOne(stage));
  const results = await Promise.allSettled(ordered.map((s) => finished.get(s.name)!));
  const failure = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failure) throw failure.reason;
  return ordered.map((s) => timings.get(s.name)!);
}

/** Where a stage's command output goes: the stage's log file, and each line to the progress display. */
interface StageOutput {
  log: WriteStream;
  onLine: (line: string) => void;
  stage: string;
  /** The log file's path, named in the error when the command fails. */
  logPath: string;
}

async function execLogged(
  argv: readonly string[],
  options: { input?: string; env?: Record<string, string>; cwd?: string },
  { log, onLine, stage, logPath }: StageOutput,
): Promise<string> {
  log.write(`$ ${argv.join(' ')}\n`);
  const [file, ...args] = argv;
  const child = execa(file, args, {
    input: options.input,
    env: options.env,
    cwd: options.cwd,
    reject: false,
    all: true,
    stdin: options.input === undefined ? 'ignore' : undefined,
    buffer: { all: true, stdout: true, stderr: false },
  });
  let tail: string[] = [];
  let pending = '';
  child.all?.on('data', (chunk: Buffer) => {
    log.write(chunk);
    pending += chunk.toString('utf8');
    const lines = pending.split(/\r?\n|\r/);
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) onLine(line.trim());
    tail = [...tail, ...lines.filter((l) => l.trim())].slice(-12);
  });
  const result = await child;
  if (result.exitCode !== 0) {
    const why = result.exitCode === undefined ? String(result.message) : `exit ${result.exitCode}`;
    throw new StageError(
      stage,
      `\`${argv.join(' ')}\` failed (${why}); last output:\n    ${[...tail, pending].filter(Boolean).slice(-12).join('\n    ')}\n  full log: ${logPath}`,
    );
  }
  return String(result.stdout ?? '');
}
