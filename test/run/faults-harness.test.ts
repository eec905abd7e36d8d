/**
 * Faults of the harness itself, through the real command line: kill -9 mid-run then the next run
 * and --resume, Ctrl-C (SIGINT) once and twice, and `cleanup`.
 */
import { execa } from 'execa';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { faultLab, qemuUnder, waitFor, type FaultLab } from '../helpers/fault-lab.ts';
import { requires } from '../helpers/requires.ts';
import type { RunManifest, IterationRecord } from '../../harness/results/types.ts';
import { parseJson, readJson } from '../helpers/json.ts';

const test = requires('qemu');

const BIN = new URL('../../bin/vdpa-bench.js', import.meta.url).pathname;

const PROFILE_BODY = `variants:
  - name: slow
    parameters: { max-bandwidth: 400000 }
matrix: { vmSizes: [256M] }
iterations: 3
warmup: 0
migration: { timeout: 90s }
`;

async function runDirOf(lab: FaultLab): Promise<string> {
  return waitFor('the run directory', async () => {
    const entries = await readdir(lab.resultsDir).catch(() => [] as string[]);
    return entries.length === 1 ? join(lab.resultsDir, entries[0]) : undefined;
  });
}

async function recordLines(dir: string): Promise<string[]> {
  const text = await readFile(join(dir, 'iterations.ndjson'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

test('kill -9 of the harness mid-run: the next run takes the lab over at once (its QEMU ended, recorded in the manifest) and completes; --resume finishes the killed run without repeating', async (t) => {
  const lab = await faultLab(t, 'harness-kill', PROFILE_BODY);
  const child = execa('node', [BIN, 'run', lab.profilePath, '--out', lab.resultsDir], { reject: false, all: true });
  const dir = await runDirOf(lab);
  await waitFor('the first migration to be recorded', async () => (await recordLines(dir)).length >= 1, 180_000);
  // mid-migration 2 if possible: wait for its destination QEMU to exist
  await waitFor('a destination QEMU for migration 2', async () => (await qemuUnder(lab.workdir)).some((p) => p.cmdline.includes('vdpa-bench-2-dst')), 60_000);
  process.kill(child.pid!, 'SIGKILL');
  await child;
  const before = await recordLines(dir);
  const leftovers = await qemuUnder(lab.workdir);
  const deadRunId = (await readJson<RunManifest>(join(dir, 'manifest.json'))).runId;
  t.log(`after kill -9: ${before.length} recorded, ${leftovers.length} QEMU left: ${leftovers.map((p) => p.pid).join(', ')}`);
  t.true(leftovers.length > 0, 'a killed harness leaves QEMU behind');
  t.is((await readJson<RunManifest>(join(dir, 'manifest.json'))).state, 'running', 'the manifest still says running: nobody marked it');

  const started = Date.now();
  const next = await execa('node', [BIN, 'run', lab.profilePath, '--out', join(lab.dir, 'next')], { reject: false });
  t.log(`next run: exit ${next.exitCode} after ${Date.now() - started} ms\n${next.stderr}`);
  t.is(next.exitCode, 0);
  t.regex(next.stderr, new RegExp(`took over the lock of run ${deadRunId} .*that harness is gone .*ended its ${leftovers.length} leftover QEMU process`));
  const [nextDir] = await readdir(join(lab.dir, 'next'));
  const manifest = await readJson<RunManifest>(join(lab.dir, 'next', nextDir, 'manifest.json'));
  t.is(manifest.state, 'completed');
  t.deepEqual(
    manifest.recovered?.map((r) => [r.runId, r.pid]),
    [[deadRunId, child.pid]],
    'one takeover (both hosts share the workdir)',
  );
  t.deepEqual([...(manifest.recovered?.[0].processesEnded ?? [])].sort(), leftovers.map((p) => p.pid).sort());
  t.deepEqual(await qemuUnder(lab.workdir), [], 'no QEMU of either run left');

  const resumed = await execa('node', [BIN, 'run', '--resume', dir], { reject: false });
  t.log(resumed.stderr);
  t.is(resumed.exitCode, 0);
  const after = await recordLines(dir);
  t.deepEqual(after.slice(0, before.length), before, 'records written before the kill are untouched');
  t.deepEqual(
    after.map((l) => parseJson<IterationRecord>(l).seq),
    [1, 2, 3],
    'each migration exactly once',
  );
  const resumedManifest = await readJson<RunManifest>(join(dir, 'manifest.json'));
  t.is(resumedManifest.state, 'completed');
  t.is(resumedManifest.resumes?.[0].alreadyRecorded, before.length);
  t.deepEqual(await qemuUnder(lab.workdir), [], 'no QEMU left behind');
});

test('Ctrl-C stops after cleaning up (QEMU ended, host dir and lock removed, manifest interrupted); a second Ctrl-C forces and cleanup clears the rest', async (t) => {
  const lab = await faultLab(t, 'sigint', PROFILE_BODY);
  const child = execa('node', [BIN, 'run', lab.profilePath, '--out', lab.resultsDir], { reject: false, all: true });
  const dir = await runDirOf(lab);
  await waitFor('a migration under way', async () => (await qemuUnder(lab.workdir)).length >= 2, 180_000);
  child.kill('SIGINT');
  const result = await child;
  t.log(result.all);
  t.is(result.exitCode, 130);
  t.regex(result.all!, /SIGINT: stopping after cleaning up/);
  const manifest = await readJson<RunManifest>(join(dir, 'manifest.json'));
  t.is(manifest.state, 'interrupted');
  t.deepEqual(await qemuUnder(lab.workdir), [], 'QEMU processes ended');
  t.deepEqual(await readdir(lab.workdir), [], 'host run directory and lock removed');

  // twice: the harness exits at once; what it could not clean is cleanup's
  const second = execa('node', [BIN, 'run', lab.profilePath, '--out', join(lab.dir, 'second')], { reject: false, all: true });
  await waitFor('a migration under way', async () => (await qemuUnder(lab.workdir)).length >= 2, 180_000);
  // two different signals cannot coalesce into one pending signal, as two quick SIGINTs can
  second.kill('SIGTERM');
  second.kill('SIGINT');
  const forced = await second;
  t.log(forced.all);
  t.is(forced.exitCode, 130);
  t.regex(forced.all!, /(SIGINT|SIGTERM) again: forcing exit without cleaning up; `vdpa-bench cleanup /);
  const cleanup = await execa('node', [BIN, 'cleanup', lab.profilePath], { reject: false });
  t.log(cleanup.stdout, cleanup.stderr);
  t.is(cleanup.exitCode, 0);
  t.regex(cleanup.stdout, /cleared the stale lock of run sigint-/);
  t.deepEqual(await qemuUnder(lab.workdir), [], 'no QEMU left after cleanup');
  t.deepEqual(await readdir(lab.workdir), []);
});
