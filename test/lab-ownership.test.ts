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
import { LocalTransport } from '../harness/hosts/local.ts';
import { acquireLock, cleanLeftovers, LabBusyError, ownerRecord, releaseLock, writeOwnerRecord, type OwnerRecord } from '../harness/run/ownership.ts';
import { loadResumeState, ResumeError } from '../harness/run/resume.ts';
import { loadProfile } from '../harness/profile/load.ts';

const host = new LocalTransport('hostA');

async function hostileWorkdir(t: import('ava').ExecutionContext): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'vdpa-bench-own-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const workdir = join(root, `work dir 'q' "d" $(touch pwned) ;x`);
  await mkdir(workdir);
  return workdir;
}

async function deadPid(): Promise<number> {
  const child = execa('true');
  await child;
  return child.pid!;
}

test('lock: one holder; re-entrant for the same run in the same process; a live holder is busy; a dead one is stale and kept', async (t) => {
  const workdir = await hostileWorkdir(t);
  const mine = ownerRecord('run-1');
  const content = await acquireLock(host, workdir, mine);
  t.is(await acquireLock(host, workdir, mine), content, 'second host of the same run on the same machine');
  const other = { ...ownerRecord('run-2') };
  const busy = await t.throwsAsync(acquireLock(host, workdir, other), { instanceOf: LabBusyError });
  t.regex(busy!.message, /the lab is busy: run run-1 by \S+, pid \d+ on /);
  await releaseLock(host, workdir, content);
  const dead: OwnerRecord = { ...ownerRecord('run-3'), pid: await deadPid() };
  const deadContent = await acquireLock(host, workdir, dead);
  const stale = await t.throwsAsync(acquireLock(host, workdir, other, { profilePath: 'lab.yaml' }), { instanceOf: LabBusyError });
  t.regex(stale!.message, /stale lock .*run run-3 .*that process is gone\. It was not taken over\. Run `vdpa-bench cleanup lab\.yaml`/);
  t.is((await readFile(join(workdir, 'vdpa-bench.lock'), 'utf8')).trim(), deadContent, 'not stolen');
  // the run itself, resumed, takes its own stale lock over
  const resumed = ownerRecord('run-3');
  const notes: string[] = [];
  await acquireLock(host, workdir, resumed, { resumeRunId: 'run-3', note: (m) => notes.push(m) });
  t.regex(notes[0], /took over the stale lock of the run being resumed/);
  t.is(JSON.parse(await readFile(join(workdir, 'vdpa-bench.lock'), 'utf8')).pid, process.pid);
  const theirs = { ...dead, controller: 'some-other-controller' };
  await writeFile(join(workdir, 'vdpa-bench.lock'), JSON.stringify(theirs) + '\n');
  const remote = await t.throwsAsync(acquireLock(host, workdir, other), { instanceOf: LabBusyError });
  t.regex(remote!.message, /runs on another controller, some-other-controller/);
  await t.throwsAsync(readFile(join(workdir, '..', 'pwned')), undefined, 'no shell ran the path');
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
  const start = (file: string, runDir: string) => execa(file, ['-c', 'while :; do sleep 1; done', `${runDir}/sock/0001-src.sock`], { reject: false });
  const victim = start(fakeQemu, deadRun);
  const bystanderNotQemu = start('/bin/bash', deadRun);
  const liveRunsQemu = start(fakeQemu, liveRun);
  t.teardown(() => {
    for (const c of [victim, bystanderNotQemu, liveRunsQemu]) c.kill('SIGKILL');
  });
  await new Promise((r) => setTimeout(r, 300));
  const reports = await cleanLeftovers(host, workdir);
  const dead = reports.find((r) => r.runId === 'dead-run')!;
  t.deepEqual(dead.killed, [victim.pid]);
  t.true(dead.removed);
  t.is((await victim).signal, 'SIGKILL');
  t.true(reports.every((r) => !r.killed.includes(bystanderNotQemu.pid!) && !r.killed.includes(liveRunsQemu.pid!)));
  t.false(bystanderNotQemu.killed || liveRunsQemu.killed);
  t.is(liveRunsQemu.exitCode, null, 'the live run\'s QEMU still runs');
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
  const manifest = { runId: 'p-1', profile: { path: profile, name: 'p', sha256: loaded.sha256, text: loaded.text }, state: 'running', options: { iterations: 5, warmup: 1, vmSizes: ['256M'], variants: ['v'], queuePairs: [null], design: 'sequential', seed: 1 }, hosts: [], variants: [] };
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
