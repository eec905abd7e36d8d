/**
 * Ctrl-C as a terminal sends it: SIGINT to the run's whole process group, not to the harness
 * alone. A real local run (firmware guests under TCG, two blocks of one migration each) is started as
 * its own process group and signalled at seeded random points spread over a whole run (start-up,
 * boot, migration, trace fetch, between blocks, teardown). Each trial must exit within
 * the bound (exitBoundMs), leave no QEMU, helper process or lock behind, keep every migration it completed
 * (and record none the signal broke), and leave the lab free for the next run. One more trial
 * sends a second SIGINT during the clean-up, which forces the exit.
 *
 * Every process a trial's run starts inherits an environment marker unique to the trial, and
 * its QEMU and lock holder name the lab's directory in their command line: those two are how the
 * trial finds what its run left, without touching anyone else's processes.
 */
import { execa, type ResultPromise } from 'execa';
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { acquireLock } from '../../harness/run/lock.ts';
import { ownerRecord } from '../../harness/run/ownership.ts';
import { seededRandom } from '../../harness/stats/random.ts';
import { faultLab, waitFor, type FaultLab } from '../helpers/fault-lab.ts';
import { requires } from '../helpers/requires.ts';

const test = requires('qemu');

const BIN = new URL('../../bin/vdpa-bench.js', import.meta.url).pathname;
const TRIALS = 20;
const SEED = Number(process.env.VDPA_BENCH_CTRL_C_SEED ?? 2023);
/**
 * From the signal to the harness's exit, clean-up included (QEMU ended, logs fetched, host
 * directory removed, lock released). Measured on this project's 2-core machine: at most 2.0 s
 * quiet (a whole run 7.4 s), 4.1 s with other tests beside it (a whole run 17.4 s); 8 s is twice
 * the worst. The clean-up is a fixed sequence of commands that slows down with the machine as the
 * run does, so on a machine so loaded that a whole run takes longer (35 s at a load average of 36,
 * where one exit took 8.2 s) the bound grows in proportion: 0.46 of a whole run.
 */
const exitBoundMs = (wholeMs: number) => Number(process.env.VDPA_BENCH_CTRL_C_BOUND_MS ?? Math.max(8_000, Math.round(0.46 * wholeMs)));
/** A trial still running this long after its signal is ended by the test (and fails). */
const GIVE_UP_MS = 30_000;

const PROFILE_BODY = `variants:
  - name: first
  - name: second
matrix: { vmSizes: [64M] }
iterations: 1
warmup: 0
migration: { timeout: 60s }
`;

const MARK = 'VDPA_BENCH_CTRL_C_MARK';
/** Two variants, one migration each: two blocks. */
const MIGRATIONS = 2;

interface Line {
  atMs: number;
  text: string;
}

interface Trial {
  child: ResultPromise<{ detached: true; reject: false; all: true }>;
  mark: string;
  startedAt: number;
  lines: Line[];
}

function startRun(lab: FaultLab, name: string): Trial {
  const mark = `${name}-${randomUUID()}`;
  const startedAt = Date.now();
  // detached: a process group (and session) of its own, as a terminal's foreground job has
  const child = execa('node', [BIN, 'run', lab.profilePath, '--out', join(lab.resultsDir, name), '--no-report'], {
    detached: true,
    reject: false,
    all: true,
    env: { [MARK]: mark },
  });
  const trial: Trial = { child, mark, startedAt, lines: [] };
  let pending = '';
  child.all.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const text of parts) if (text.trim()) trial.lines.push({ atMs: Date.now() - startedAt, text });
  });
  return trial;
}

/** Live, non-zombie processes of a trial: its marker in their environment, or the lab's directory in their command line. */
async function processesOf(trial: Trial, lab: FaultLab): Promise<{ pid: number; cmdline: string }[]> {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const [environ, cmdline, stat] = await Promise.all(['environ', 'cmdline', 'stat'].map((f) => readFile(`/proc/${entry}/${f}`, 'utf8').catch(() => '')));
    if (stat.split(') ')[1]?.startsWith('Z')) continue;
    if (environ.split('\0').includes(`${MARK}=${trial.mark}`) || cmdline.includes(`${lab.dir}/`))
      found.push({ pid: Number(entry), cmdline: cmdline.replaceAll('\0', ' ').trim() });
  }
  return found;
}

function signalGroup(trial: Trial, signal: NodeJS.Signals): void {
  try {
    process.kill(-trial.child.pid!, signal);
  } catch {
    // the group is gone: the run ended first
  }
}

/** What the run was doing when the signal came: its last line before it. */
function phaseAt(trial: Trial, atMs: number): string {
  const before = trial.lines.filter((l) => l.atMs <= atMs);
  const last = before.at(-1)?.text ?? '(start-up: nothing printed yet)';
  return last.length > 70 ? `${last.slice(0, 70)}…` : last;
}

interface Outcome {
  index: number;
  delayMs: number;
  exitMs: number | null;
  phase: string;
  problems: string[];
}

async function recordsOf(lab: FaultLab, name: string): Promise<{ runDir?: string; records: { seq: number; status: string }[] }> {
  const base = join(lab.resultsDir, name);
  const [runId] = await readdir(base).catch(() => [] as string[]);
  if (!runId) return { records: [] };
  const runDir = join(base, runId);
  const text = await readFile(join(runDir, 'iterations.ndjson'), 'utf8').catch(() => '');
  return {
    runDir,
    records: text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { seq: number; status: string }),
  };
}

/** Everything a run must leave after Ctrl-C, as a list of what is wrong (empty: all held). */
async function checkAftermath(lab: FaultLab, name: string, trial: Trial, signalAtMs: number): Promise<string[]> {
  const problems: string[] = [];
  const result = await trial.child;
  const done = (upTo: number) => trial.lines.filter((l) => l.atMs <= upTo && /^\[\d+\/\d+\]/.test(l.text) && !/FAILED/.test(l.text)).length;
  const { runDir, records } = await recordsOf(lab, name);
  const manifest = runDir ? (JSON.parse(await readFile(join(runDir, 'manifest.json'), 'utf8').catch(() => '{}')) as { state?: string }) : undefined;
  // before the harness installed its handler: nothing started yet, the signal's default action ended it
  const killedBeforeStart = result.signal === 'SIGINT' && !runDir;
  // in the teardown after the last migration: the schedule is complete, and the run says so
  const completedFirst = result.exitCode === 0 && manifest?.state === 'completed' && records.length === MIGRATIONS;
  if (result.exitCode !== 130 && !killedBeforeStart && !completedFirst) problems.push(`exit ${result.exitCode ?? result.signal}, not 130`);
  if (manifest && manifest.state !== 'interrupted' && !completedFirst) problems.push(`manifest state ${manifest.state}`);
  if (records.some((r) => r.status !== 'ok')) problems.push(`records not ok: ${records.filter((r) => r.status !== 'ok').map((r) => `${r.seq} ${r.status}`)}`);
  if (records.map((r) => r.seq).join() !== records.map((_, i) => i + 1).join()) problems.push(`seqs ${records.map((r) => r.seq)}`);
  if (records.length < done(signalAtMs)) problems.push(`${done(signalAtMs)} migrations done before the signal, ${records.length} recorded`);
  if (records.length !== done(Infinity)) problems.push(`${done(Infinity)} migrations printed as done, ${records.length} recorded`);
  if (trial.lines.some((l) => /retaken|retaking/.test(l.text))) problems.push('the interrupted run retook the lock');
  if (trial.lines.some((l) => /still busy 3 s after the interrupted run ended/.test(l.text))) problems.push("only the launcher's 3 s fallback ended it");
  // processes the run started are ended before it exits; a moment for the kernel to reap them
  const left = await waitFor('the run to leave no process', async () => ((await processesOf(trial, lab)).length === 0 ? true : undefined), 1_000, 50).catch(
    () => false,
  );
  if (!left) problems.push(`processes left: ${(await processesOf(trial, lab)).map((p) => `${p.pid} ${p.cmdline.slice(0, 80)}`).join('; ')}`);
  const workdir = await readdir(lab.workdir).catch(() => [] as string[]);
  if (workdir.length > 0) problems.push(`left in the workdir: ${workdir.join(', ')}`);
  const next = await acquireLock(new LocalTransport('hostA'), lab.workdir, ownerRecord(`${name}-next`), { exitGraceMs: 0, timeoutMs: 10_000 }).catch(
    (error: Error) => error,
  );
  if (next instanceof Error) problems.push(`the next run is refused: ${next.message}`);
  else await next.release();
  return problems;
}

/** Ends whatever a trial that did not exit left, so the next trial starts clean. */
async function endStuck(trial: Trial, lab: FaultLab): Promise<void> {
  signalGroup(trial, 'SIGKILL');
  await trial.child;
  for (const p of await processesOf(trial, lab)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  await execa('node', [BIN, 'cleanup', lab.profilePath], { reject: false });
}

/**
 * A point of a run, as a phase rather than a clock time (runs here vary by a third in length):
 * after the uninterrupted run's `afterLines`-th line of output, `offsetMs` later.
 */
interface Point {
  atMs: number;
  afterLines: number;
  offsetMs: number;
}

function pointOf(whole: Trial, atMs: number): Point {
  const before = whole.lines.filter((l) => l.atMs <= atMs);
  return { atMs, afterLines: before.length, offsetMs: atMs - (before.at(-1)?.atMs ?? 0) };
}

/**
 * Waits for the point's phase, then its offset scaled to this run's pace so far (the machine's
 * load changes from run to run); a run that reaches its next line first is signalled there.
 */
async function reach(trial: Trial, point: Point, whole: Trial): Promise<void> {
  const running = () => trial.child.exitCode === null && trial.child.signalCode === null;
  await waitFor('the phase', async () => trial.lines.length >= point.afterLines || !running(), 300_000, 5);
  const k = point.afterLines;
  const pace = k > 0 && trial.lines[k - 1] ? Math.min(3, Math.max(0.3, trial.lines[k - 1].atMs / whole.lines[k - 1].atMs)) : 1;
  const until = Date.now() + point.offsetMs * pace;
  await waitFor('the point', async () => Date.now() >= until || trial.lines.length > k || !running(), point.offsetMs * 3 + 60_000, 5);
}

async function interruptAt(t: ExecutionContext, lab: FaultLab, index: number, point: Point, whole: Trial): Promise<Outcome> {
  const boundMs = exitBoundMs(whole.lines.at(-1)!.atMs);
  const name = `trial-${String(index).padStart(2, '0')}`;
  const trial = startRun(lab, name);
  const outcome: Outcome = { index, delayMs: point.atMs, exitMs: null, phase: '', problems: [] };
  await reach(trial, point, whole);
  if (trial.child.exitCode !== null || trial.child.signalCode !== null) {
    outcome.problems.push(`the run ended before its signal`);
    return outcome;
  }
  const signalAtMs = Date.now() - trial.startedAt;
  outcome.phase = phaseAt(trial, signalAtMs);
  signalGroup(trial, 'SIGINT');
  const exited = await Promise.race([trial.child.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), GIVE_UP_MS))]);
  if (!exited) {
    outcome.problems.push(`still running ${GIVE_UP_MS} ms after the signal`);
    await endStuck(trial, lab);
  } else {
    outcome.exitMs = Date.now() - trial.startedAt - signalAtMs;
    if (outcome.exitMs > boundMs) outcome.problems.push(`exited ${outcome.exitMs} ms after the signal (bound ${boundMs} ms)`);
  }
  outcome.problems.push(...(await checkAftermath(lab, name, trial, signalAtMs)));
  if (outcome.problems.length > 0) t.log(`trial ${index} output:\n${trial.lines.map((l) => `  ${(l.atMs / 1000).toFixed(2)} ${l.text}`).join('\n')}`);
  if (outcome.problems.length > 0 && exited) await endStuck(trial, lab);
  return outcome;
}

function quantiles(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return sorted.length ? `min ${sorted[0]} ms, median ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${sorted.at(-1)} ms` : 'none';
}

test.serial(
  `Ctrl-C to the process group at ${TRIALS} seeded points of a run: each exits within the bound, leaves no QEMU, helper or lock, keeps every completed migration`,
  async (t) => {
    t.timeout(15 * 60_000);
    const lab = await faultLab(t, 'ctrl-c', PROFILE_BODY);
    // one whole run first: how long a run lasts here, so the signals spread over all of it
    const whole = startRun(lab, 'whole');
    const result = await whole.child;
    const wholeMs = Date.now() - whole.startedAt;
    t.is(result.exitCode, 0, result.all);
    t.is((await recordsOf(lab, 'whole')).records.length, MIGRATIONS);
    t.log(
      `seed ${SEED}; exit bound ${exitBoundMs(wholeMs)} ms; an uninterrupted run: ${wholeMs} ms:\n${whole.lines.map((l) => `  ${(l.atMs / 1000).toFixed(2)} ${l.text}`).join('\n')}`,
    );
    // up to its summary line (printed once the lab is torn down and the lock released)
    const spanMs = whole.lines.find((l) => / migrations: \d+ ok/.test(l.text))!.atMs;
    // one point in each of TRIALS equal slices of the run: every phase gets its share
    const random = seededRandom(SEED);
    const points = Array.from({ length: TRIALS }, (_, i) => pointOf(whole, Math.round(((i + random()) * spanMs) / TRIALS)));
    const outcomes: Outcome[] = [];
    for (const [index, point] of points.entries()) {
      const outcome = await interruptAt(t, lab, index + 1, point, whole);
      outcomes.push(outcome);
      t.log(
        `trial ${outcome.index}: SIGINT at ${point.atMs} ms of the whole run (${outcome.phase}): ${outcome.exitMs === null ? 'no exit' : `exit after ${outcome.exitMs} ms`}${outcome.problems.length ? `; ${outcome.problems.join('; ')}` : ''}`,
      );
    }
    t.log(`exit after the signal over ${TRIALS} trials: ${quantiles(outcomes.flatMap((o) => (o.exitMs === null ? [] : [o.exitMs])))}`);
    t.deepEqual(
      outcomes.filter((o) => o.problems.length > 0).map((o) => `trial ${o.index} (SIGINT at ${o.delayMs} ms): ${o.problems.join('; ')}`),
      [],
    );
  },
);

test.serial('a second Ctrl-C to the process group during the clean-up forces the exit; nothing the run started is left running', async (t) => {
  const lab = await faultLab(t, 'ctrl-c-twice', PROFILE_BODY);
  const trial = startRun(lab, 'twice');
  await waitFor('the first migration under way', async () => trial.lines.some((l) => /^booting/.test(l.text)), 120_000, 20);
  signalGroup(trial, 'SIGINT');
  // the second only once the first was seen: two quick signals can coalesce into one
  await waitFor('the first SIGINT to be handled', async () => trial.lines.some((l) => /SIGINT: stopping after cleaning up/.test(l.text)), 10_000, 5);
  const secondAt = Date.now();
  signalGroup(trial, 'SIGINT');
  const result = await trial.child;
  const forcedMs = Date.now() - secondAt;
  t.log(result.all);
  t.log(`exit ${forcedMs} ms after the second SIGINT`);
  t.is(result.exitCode, 130);
  t.regex(result.all, /SIGINT again: forcing exit without cleaning up; `vdpa-bench cleanup /);
  t.true(forcedMs < 2_000, `forced exit took ${forcedMs} ms`);
  // the lock holder ends at the harness's exit (stdin EOF), its QEMU with it
  await waitFor('no process of the run left', async () => ((await processesOf(trial, lab)).length === 0 ? true : undefined), 5_000, 50);
  const cleanup = await execa('node', [BIN, 'cleanup', lab.profilePath], { reject: false });
  t.is(cleanup.exitCode, 0, cleanup.stderr);
  const next = await acquireLock(new LocalTransport('hostA'), lab.workdir, ownerRecord('after-forced'), { exitGraceMs: 0 });
  await next.release();
  t.deepEqual(await readdir(lab.workdir), []);
});

test.serial('a hang-up (the terminal closed) mid-migration cleans up as Ctrl-C does: no QEMU, helper or lock left, the completed migration kept', async (t) => {
  const lab = await faultLab(t, 'hang-up', PROFILE_BODY);
  const trial = startRun(lab, 'hang-up');
  // the first migration done and the second block booting: QEMU processes are running
  await waitFor('the second block under way', async () => trial.lines.some((l) => /^booting .*block 2/.test(l.text)), 180_000, 20);
  const signalAtMs = Date.now() - trial.startedAt;
  signalGroup(trial, 'SIGHUP');
  const result = await trial.child;
  t.log(result.all);
  t.regex(result.all, /SIGHUP: stopping after cleaning up/);
  t.deepEqual(await checkAftermath(lab, 'hang-up', trial, signalAtMs), []);
  t.is((await recordsOf(lab, 'hang-up')).records.length, 1);
});
