/**
 * Locks, owner records and leftover cleanup on a real host (this machine, LocalTransport), with
 * stand-in processes: only processes named like QEMU whose command line points into a run
 * directory with a dead owner may be ended. Workdir paths are hostile on purpose.
 */
import test from 'ava';
import { execa } from 'execa';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { cleanLeftovers, LabBusyError, ownerRecord, writeOwnerRecord } from '../../harness/run/ownership.ts';
import { acquireLock } from '../../harness/run/lock.ts';
import { loadResumeState, ResumeError } from '../../harness/run/resume.ts';
import { loadProfile } from '../../harness/profile/load.ts';
import { waitFor } from '../helpers/fault-lab.ts';
import type { OwnerRecord } from '../../harness/run/ownership.ts';
import { readJson } from '../helpers/json.ts';

const host = new LocalTransport('hostA');

async function hostileWorkdir(t: import('ava').ExecutionContext): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'vdpa-bench-own-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const workdir = join(root, `work dir 'q' "d" $(touch pwned) ;x`);
  await mkdir(workdir);
  return workdir;
}

async function waitForOutput(child: import('execa').ResultPromise, text: string): Promise<void> {
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) resolve();
    });
    void child.then((r) => reject(new Error(`exited before "${text}": ${r.stderr}`)));
  });
}

async function deadPid(): Promise<number> {
  const child = execa('true');
  await child;
  return child.pid!;
}

test('lock: one holder; re-entrant for the same run in the same process; a live holder is busy; release removes the file', async (t) => {
  const workdir = await hostileWorkdir(t);
  const mine = ownerRecord('run-1');
  const lock = await acquireLock(host, workdir, mine);
  const again = await acquireLock(host, workdir, mine);
  t.is(again.content, lock.content, 'second host of the same run on the same machine');
  const busy = await t.throwsAsync(acquireLock(host, workdir, ownerRecord('run-2')), { instanceOf: LabBusyError });
  t.regex(busy!.message, /the lab is busy: run run-1 by \S+, pid \d+ on .*still holds/);
  await again.release();
  t.truthy(await readFile(join(workdir, 'vdpa-bench.lock'), 'utf8'), 'the shared acquisition does not release');
  await lock.release();
  await t.throwsAsync(readFile(join(workdir, 'vdpa-bench.lock')), { code: 'ENOENT' });
  const next = await acquireLock(host, workdir, ownerRecord('run-2'));
  t.falsy(next.recovered, 'a released lock is simply free');
  await next.release();
  await t.throwsAsync(readFile(join(workdir, '..', 'pwned')), undefined, 'no shell ran the path');
});

test('lock: the kernel lock decides, not the record: a record whose pid is dead but whose flock is held is a live run', async (t) => {
  const workdir = await hostileWorkdir(t);
  const record = { ...ownerRecord('run-dead-pid'), pid: await deadPid() };
  await writeFile(join(workdir, 'vdpa-bench.lock'), JSON.stringify(record) + '\n');
  // another process (not this harness) holds the flock on the file
  // (exec: one process holds the lock, so killing it releases it)
  const holder = execa('bash', ['-c', 'exec 9<>"$1" && flock 9 && echo locked && exec sleep 60', 'holder', join(workdir, 'vdpa-bench.lock')], {
    reject: false,
  });
  t.teardown(() => void holder.kill('SIGKILL'));
  await waitForOutput(holder, 'locked');
  const busy = await t.throwsAsync(acquireLock(host, workdir, ownerRecord('run-2'), { exitGraceMs: 0 }), { instanceOf: LabBusyError });
  t.regex(busy!.message, /the lab is busy: run run-dead-pid .*still holds/);
  holder.kill('SIGKILL');
  await holder;
  const notes: string[] = [];
  const lock = await acquireLock(host, workdir, ownerRecord('run-2'), { note: (m: string) => void notes.push(m) });
  t.is(lock.recovered?.runId, 'run-dead-pid', 'the holder died: taken over');
  t.regex(notes[0], /took over the lock of run run-dead-pid .*that harness is gone/);
  await lock.release();
});

test("lock: a killed holder releases it; the next run takes it over and ends that run's QEMU (only ours, only that run's)", async (t) => {
  const workdir = await hostileWorkdir(t);
  const fakeQemu = join(workdir, '..', 'qemu-system-x86_64');
  await copyFile('/bin/bash', fakeQemu);
  await execa('chmod', ['+x', fakeQemu]);
  // a harness of its own in a child process: takes the lock, writes its owner record, then is SIGKILLed
  const deadRunId = 'dead-run';
  const child = execa(
    process.execPath,
    [
      '--import=tsx',
      '-e',
      `
    const { LocalTransport } = await import(${JSON.stringify(new URL('../../harness/hosts/local.ts', import.meta.url).pathname)});
    const { acquireLock } = await import(${JSON.stringify(new URL('../../harness/run/lock.ts', import.meta.url).pathname)});
    const { ownerRecord, writeOwnerRecord } = await import(${JSON.stringify(new URL('../../harness/run/ownership.ts', import.meta.url).pathname)});
    const workdir = process.argv[1];
    const owner = ownerRecord(${JSON.stringify(deadRunId)}, ['vdpa-bench', 'run']);
    await acquireLock(new LocalTransport('hostA'), workdir, owner);
    await writeOwnerRecord(new LocalTransport('hostA'), workdir + '/${deadRunId}', owner);
    console.log('locked');
    setInterval(() => {}, 1000);
  `,
      workdir,
    ],
    { reject: false, cwd: new URL('../..', import.meta.url).pathname },
  );
  await waitForOutput(child, 'locked');
  const start = (file: string, runDir: string) =>
    execa(file, ['-c', 'echo running; while :; do sleep 1; done', `${runDir}/sock/0001-src.sock`], { reject: false });
  const victim = start(fakeQemu, join(workdir, deadRunId));
  const notQemu = start('/bin/bash', join(workdir, deadRunId));
  const otherRun = start(fakeQemu, join(workdir, 'other-run'));
  t.teardown(() => {
    for (const c of [victim, notQemu, otherRun]) c.kill('SIGKILL');
  });
  await Promise.all([victim, notQemu, otherRun].map((c) => waitForOutput(c, 'running')));
  const busy = await t.throwsAsync(acquireLock(host, workdir, ownerRecord('run-2')), { instanceOf: LabBusyError });
  t.regex(busy!.message, /the lab is busy: run dead-run/, 'refused while the harness lives');

  child.kill('SIGKILL');
  await child;
  const started = Date.now();
  const notes: string[] = [];
  const lock = await acquireLock(host, workdir, ownerRecord('run-2'), { note: (m: string) => void notes.push(m) });
  t.log(`takeover took ${Date.now() - started} ms: ${notes.join('; ')}`);
  t.deepEqual(lock.recovered?.processesEnded, [victim.pid]);
  t.is(lock.recovered?.runId, deadRunId);
  t.is(lock.recovered?.pid, child.pid);
  t.is((await victim).signal, 'SIGKILL');
  t.is(notQemu.exitCode, null, 'a non-QEMU process is never ended');
  t.is(otherRun.exitCode, null, "another run's QEMU is not this run's");
  t.is((await readJson<OwnerRecord>(join(workdir, 'vdpa-bench.lock'))).runId, 'run-2');
  await lock.release();
});

test('cleanup ends only QEMU-named processes pointing into a run directory whose owner is dead', async (t) => {
  const workdir = await hostileWorkdir(t);
  const fakeQemu = join(workdir, '..', 'qemu-system-x86_64');
  await copyFile('/bin/bash', fakeQemu);
  await execa('chmod', ['+x', fakeQemu]);
  const deadRun = join(workdir, 'dead-run');
  const liveRun = join(workdir, 'live-run');
  await writeOwnerRecord(host, deadRun, { ...ownerRecord('dead-run'), pid: await deadPid() });
  await writeOwnerRecord(host, liveRun, ownerRecord('live-run'));
  // stand-ins: a bash named like QEMU (or not) idling, with the run's socket path in its argv as QEMU has
  const start = (file: string, runDir: string) =>
    execa(file, ['-c', 'echo running; while :; do sleep 1; done', `${runDir}/sock/0001-src.sock`], { reject: false });
  const victim = start(fakeQemu, deadRun);
  const bystanderNotQemu = start('/bin/bash', deadRun);
  const liveRunsQemu = start(fakeQemu, liveRun);
  t.teardown(() => {
    for (const c of [victim, bystanderNotQemu, liveRunsQemu]) c.kill('SIGKILL');
  });
  // each stand-in counts once it has exec'd: its command line then carries the socket path
  const execd = async (c: typeof victim) => (await readFile(`/proc/${c.pid}/cmdline`, 'utf8').catch(() => '')).includes('/sock/0001-src.sock');
  await waitFor('the stand-ins to start', async () => (await Promise.all([victim, bystanderNotQemu, liveRunsQemu].map(execd))).every(Boolean), 10_000, 20);
  const reports = await cleanLeftovers(host, workdir);
  const dead = reports.find((r) => r.runId === 'dead-run')!;
  t.deepEqual(dead.killed, [victim.pid]);
  t.true(dead.removed);
  t.is((await victim).signal, 'SIGKILL');
  t.true(reports.every((r) => !r.killed.includes(bystanderNotQemu.pid!) && !r.killed.includes(liveRunsQemu.pid!)));
  t.false(bystanderNotQemu.killed || liveRunsQemu.killed);
  t.is(liveRunsQemu.exitCode, null, "the live run's QEMU still runs");
  await t.notThrowsAsync(readFile(join(liveRun, 'vdpa-bench-owner.json')), 'the live run directory is kept');
});

test('resume: refuses a changed profile and a completed run; a torn last line is moved aside, not glued to', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'vdpa-bench-resume-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const profile = join(root, 'p.yaml');
  await writeFile(profile, 'name: p\nhosts: [{ name: hostA }]\nvariants: [{ name: v }]\nmatrix: { vmSizes: [256M] }\n');
  const loaded = await loadProfile(profile);
  const dir = join(root, 'run');
  await mkdir(dir);
  // a whole manifest: resume reads it through the manifest format's validation
  const manifest = {
    runId: 'p-1',
    tool: { name: 'vdpa-bench', version: '0', gitCommit: null },
    profile: { path: profile, name: 'p', sha256: loaded.sha256, text: loaded.text },
    startedAt: '2026-11-28T00:00:00.000Z',
    finishedAt: null,
    state: 'running',
    command: ['run', profile],
    accel: { requested: 'auto', used: 'tcg', reason: 'test' },
    metrics: { primary: 'runstate', names: ['runstate'] },
    options: { iterations: 5, warmup: 1, vmSizes: ['256M'], variants: ['v'], queuePairs: [null], design: 'sequential', seed: 1 },
    hosts: [],
    variants: [],
  };
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  const good = JSON.stringify({ seq: 1, variant: 'v', vmSize: '256M', queuePairs: null, warmup: true, status: 'ok' });
  await writeFile(join(dir, 'iterations.ndjson'), `${good}\n{"seq":2,"variant":"v","vmSi`);
  const state = await loadResumeState(dir, loaded);
  t.true(state.repairedTornLine);
  t.deepEqual([...state.done], [1]);
  t.is(await readFile(join(dir, 'iterations.ndjson'), 'utf8'), `${good}\n`);
  t.regex(await readFile(join(dir, 'iterations.torn'), 'utf8'), /torn last line moved aside on resume: \{"seq":2,"variant":"v","vmSi\n/);

  await appendFile(profile, 'iterations: 7\n');
  const changed = await loadProfile(profile);
  const error = await t.throwsAsync(loadResumeState(dir, changed), { instanceOf: ResumeError });
  t.regex(error!.message, /the profile changed since run p-1 started/);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, state: 'completed' }));
  await t.throwsAsync(loadResumeState(dir, loaded), { message: /already completed/ });
});
