/**
 * A throwaway local lab for fault tests: a profile whose hosts' workdir is a fresh temporary
 * directory, so every QEMU a test starts is recognisable by its command line (and only those
 * are ever killed by the test's own clean-up).
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { RunningQemu } from '../../harness/qemu/running.ts';

export interface FaultLab {
  dir: string;
  workdir: string;
  resultsDir: string;
  profilePath: string;
}

/**
 * Two hosts on this machine (`transport`: local unless given, e.g. ssh through a test sshd), every
 * QEMU the test starts pointing into `workdir`, all of it removed when the test ends.
 */
export async function faultLab(t: Pick<ExecutionContext, 'teardown'>, name: string, body: string, transport: unknown = { kind: 'local' }): Promise<FaultLab> {
  const dir = await mkdtemp(join(tmpdir(), `vdpa-bench-${name}-`));
  const workdir = join(dir, 'work');
  const profilePath = join(dir, 'profile.yaml');
  await writeFile(
    profilePath,
    `name: ${name}
hosts:
  - { name: hostA, transport: ${JSON.stringify(transport)}, workdir: ${JSON.stringify(workdir)} }
  - { name: hostB, transport: ${JSON.stringify(transport)}, workdir: ${JSON.stringify(workdir)} }
vm:
  accel: tcg
  memory: { backend: file, share: true }
design: { order: sequential }
trace: { events: [runstate_set, migrate_set_state] }
metrics: { primary: runstate }
compare: { noiseThresholdPct: 5 }
${body}`,
  );
  t.teardown(async () => {
    for (const p of await qemuUnder(workdir)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, workdir, resultsDir: join(dir, 'results'), profilePath };
}

/** QEMU processes whose command line points into `workdir`: the ones this test started. */
export async function qemuUnder(workdir: string): Promise<{ pid: number; cmdline: string }[]> {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const argv = cmdline.split('\0');
    if (/qemu-system/.test(argv[0] ?? '') && cmdline.includes(`${workdir}/`)) {
      const state = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
      if (state.split(') ')[1]?.startsWith('Z')) continue; // a zombie has ended; its parent reaps it
      found.push({ pid: Number(entry), cmdline: argv.join(' ') });
    }
  }
  return found;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 120_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function silentProgress(notes: string[] = []) {
  return { blockStarted() {}, migrationDone() {}, note: (m: string) => void notes.push(m) };
}

/**
 * Runs `fault` once the source reports the migration active (after `delayMs`), telling it whether
 * the migration had already completed by then; a migration that never becomes active is logged.
 */
export function whenMigrationActive(source: RunningQemu, delayMs: number, log: string[], fault: (completedAlready: boolean) => void | Promise<void>): void {
  const mark = source.qmp.events.length;
  void source.qmp
    .waitForEvent((e) => e.event === 'MIGRATION' && e.data?.status === 'active', 60_000, 'active', mark)
    .then(() => new Promise((r) => setTimeout(r, delayMs)))
    .then(() => fault(source.qmp.events.slice(mark).some((e) => e.event === 'MIGRATION' && e.data?.status === 'completed')))
    .catch((error) => log.push(`no fault injected: ${(error as Error).message}`));
}
