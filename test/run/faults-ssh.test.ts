/**
 * A host whose ssh connection drops mid-run, injected for real: the test's own sshd (both lab
 * hosts are 127.0.0.1 through it) is killed with every process serving a connection, so the
 * harness's ControlMaster, its QMP forwards and QEMU's launch sessions all go at once.
 * Then sshd comes back on the same port (the run reconnects and goes on), or never does (the run
 * stops, failed, with what it completed; `cleanup` clears the rest once the host is back).
 */
import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { SshTransport } from '../../harness/hosts/ssh.ts';
import { HostUnreachableError } from '../../harness/hosts/transport.ts';
import type { MigrationHooks } from '../../harness/migration/interfaces.ts';
import { endOrphanedQemu } from '../../harness/migration/reconnect.ts';
import { runBenchmark } from '../../harness/run/run.ts';
import { loadProfile } from '../../harness/profile/load.ts';
import { readIterations } from '../../harness/results/store.ts';
import type { IterationRecord, RunManifest } from '../../harness/results/types.ts';
import { faultLab, qemuUnder, silentProgress, waitFor, whenMigrationActive, type FaultLab } from '../helpers/fault-lab.ts';
import { startSshd, type TestSshd } from '../../testbed/sshd.ts';
import { requires } from '../helpers/requires.ts';
import { readJson } from '../helpers/json.ts';

const test = requires('root', 'sshd', 'qemu');

const BIN = new URL('../../bin/vdpa-bench.js', import.meta.url).pathname;

interface SshLab extends FaultLab {
  sshd: TestSshd;
}

/** Two ssh hosts on this machine through a fresh sshd; every QEMU the test starts points into `workdir`. */
async function sshLab(t: Pick<ExecutionContext, 'teardown'>, name: string, migration: string, sshOptions: string[] = []): Promise<SshLab> {
  const sshd = await startSshd();
  t.teardown(() => sshd.stop());
  const lab = await faultLab(
    t,
    name,
    `variants:
  - name: slow
    # 400 kB/s stretches a 256M firmware guest's migration to seconds: a window to drop the host in
    parameters: { max-bandwidth: 400000 }
matrix: { vmSizes: [256M] }
warmup: 0
migration: ${migration}
`,
    { kind: 'ssh', ...sshd.config, controlPersist: '10m', options: sshOptions },
  );
  await mkdir(lab.workdir);
  return { ...lab, sshd };
}

/** Whether the source trace of the migration whose files start with `prefix` (under any run directory in `workdir`) has `line` yet. */
async function sourceTraceShows(workdir: string, prefix: string, line: string): Promise<boolean> {
  const files = (await readdir(workdir, { recursive: true }).catch(() => [] as string[])).filter(
    (f) => basename(f).startsWith(prefix) && /-src-.*\.log$/.test(f),
  );
  for (const file of files) if ((await readFile(join(workdir, file), 'utf8').catch(() => '')).includes(line)) return true;
  return false;
}

function summary(records: IterationRecord[]): string {
  return records.map((r) => `${r.seq} ${r.status} ${r.reason ?? ''}`).join('\n');
}

test.serial('the transport notices a dropped master, reconnects with backoff once sshd is back, and gives up with the time it was lost', async (t) => {
  const sshd = await startSshd();
  const ssh = new SshTransport('flaky', sshd.config);
  t.teardown(async () => {
    await ssh.close();
    await sshd.stop();
  });
  await ssh.run(['true']);
  t.is(await ssh.connectionLost(), null, 'a working master is not lost');

  const dropped = await sshd.drop();
  t.true(dropped.length >= 2, `the listener and the connection's sshd were killed (${dropped.join(', ')})`);
  const loss = await ssh.connectionLost();
  if (!loss) return t.fail('the dropped master went unnoticed');
  t.regex(loss.connection, new RegExp(`^ssh root@127\\.0\\.0\\.1 port ${sshd.port}$`));
  t.is(loss.detail, 'the master connection closed');

  const restartAfterMs = 2_000;
  const restarted = new Promise<void>((resolve, reject) => setTimeout(() => void sshd.restart().then(resolve, reject), restartAfterMs));
  const retries: string[] = [];
  const back = await ssh.reconnect(30_000, { onRetry: (m) => retries.push(m) });
  await restarted;
  t.log(`reconnected after ${back.downMs} ms, ${back.attempts} attempts:\n${retries.join('\n')}`);
  t.true(back.attempts >= 2, 'the first attempts met a closed port');
  t.true(back.downMs >= restartAfterMs, `${back.downMs} ms`);
  t.regex(retries[0], /flaky: reconnect attempt 1 failed \(.*Connection refused\); next in 0\.5 s/);
  t.is(await ssh.connectionLost(), null, 'the new master is the one in use');
  t.is((await ssh.run(['echo', 'back'])).stdout, 'back\n');

  await sshd.drop();
  const lostAt = Date.now();
  const gaveUp = await t.throwsAsync(ssh.reconnect(1_500), { instanceOf: HostUnreachableError });
  t.true(gaveUp!.since.getTime() >= lostAt - 1_000 && gaveUp!.since.getTime() <= Date.now());
  t.regex(
    gaveUp!.message,
    /^flaky: unreachable since \d{4}-\d\d-\d\dT[\d:.]+Z: ssh root@127\.0\.0\.1 port \d+: no connection within 1\.5 s \(\d+ attempts; last: .*Connection refused\)$/,
  );
  // at once: rejected before the event loop turns, so no connection was attempted and no timer waited
  const later = ssh.run(['true']).then(
    () => 'resolved',
    (error: unknown) => error,
  );
  const settled = await Promise.race([later, new Promise((resolve) => setImmediate(() => resolve('still pending after one turn of the event loop')))]);
  t.is(settled, gaveUp, 'later commands fail at once with the same error');
});

test.serial('QEMU processes of the run that outlived a connection are ended; nothing else is touched', async (t) => {
  const lab = await sshLab(t, 'orphans', '{}');
  const runDir = join(lab.workdir, "run-'$(x)");
  await mkdir(join(runDir, 'sock'), { recursive: true });
  // as if started over the lost connection: a real QEMU whose QMP socket is in the run's directory
  const orphan = execa(
    'qemu-system-x86_64',
    ['-machine', 'none', '-display', 'none', '-S', '-qmp', `unix:${join(runDir, 'sock', '0001-src.sock')},server=on,wait=off`],
    { reject: false },
  );
  const bystander = execa(process.execPath, ['-e', 'setTimeout(() => {}, 600_000)', `${runDir}/sock/`], { reject: false });
  t.teardown(() => {
    orphan.kill('SIGKILL');
    bystander.kill('SIGKILL');
  });
  await waitFor('the orphan QEMU', async () => (await qemuUnder(lab.workdir)).length === 1, 30_000);
  const ssh = new SshTransport('hostA', lab.sshd.config);
  t.teardown(() => ssh.close());
  const ended = await endOrphanedQemu({ name: 'hostA', transport: ssh, runDir, migrationAddress: '127.0.0.1' });
  t.deepEqual(ended, [orphan.pid]);
  t.is((await orphan).signal, 'SIGKILL');
  t.deepEqual(await qemuUnder(lab.workdir), []);
  t.is(bystander.exitCode, null, 'a process that is not a QEMU is left alone');
  t.deepEqual(await endOrphanedQemu({ name: 'hostA', transport: ssh, runDir, migrationAddress: '127.0.0.1' }), [], 'nothing left to end');
});

test.serial(
  'sshd dropped mid-migration and back 3 s later: that migration is failed with the lost connection, the run reconnects and completes, nothing left behind',
  async (t) => {
    const lab = await sshLab(t, 'sshdrop', '{ timeout: 90s, reconnectTimeout: 60s }');
    const loaded = await loadProfile(lab.profilePath);
    const log: string[] = [];
    let restarted: Promise<void> | undefined;
    const hooks: MigrationHooks[] = [
      {
        async beforeMigration({ planned, source }) {
          if (planned.seq !== 2) return;
          whenMigrationActive(source, 300, log, async (completed) => {
            const pids = await lab.sshd.drop();
            log.push(`sshd dropped (pids ${pids.join(', ')})${completed ? ' AFTER completion' : ' mid-migration'} at ${new Date().toISOString()}`);
            restarted = new Promise<void>((r) => setTimeout(r, 3_000))
              .then(() => lab.sshd.restart())
              .then(() => void log.push(`sshd back at ${new Date().toISOString()}`));
          });
        },
      },
    ];
    const notes: string[] = [];
    const outcome = await runBenchmark(loaded, { iterations: 4, outDir: lab.resultsDir, progress: silentProgress(notes), hooks });
    await restarted;
    t.log([...log, ...notes].join('\n'));
    t.true(
      log.some((l) => l.includes('mid-migration')),
      'sshd went away while migration 2 was running',
    );
    const { records, tornLines } = await readIterations(outcome.dir);
    t.deepEqual(tornLines, []);
    t.deepEqual(
      records.map((r) => r.seq),
      [1, 2, 3, 4],
      'every migration is recorded once, in order',
    );
    t.deepEqual(
      records.map((r) => r.status),
      ['ok', 'failed', 'ok', 'ok'],
      summary(records),
    );
    t.regex(records[1].reason!, /^lost the connection to host[AB] \(ssh root@127\.0\.0\.1 port \d+: the master connection closed, at \d{4}-[\d-]+T[\d:.]+Z\)/);
    for (const r of records.filter((x) => x.status === 'ok')) t.true(r.downtimeMs! > 0);
    const reconnected = notes.filter((n) => /connection back after [\d.]+ s/.test(n));
    t.true(reconnected.length >= 1, notes.join('\n'));
    t.is(outcome.manifest.state, 'completed', outcome.manifest.stateReason);
    t.deepEqual(outcome.manifest.abandonedCells, []);
    t.deepEqual(await qemuUnder(lab.workdir), [], 'no QEMU left behind');
    t.deepEqual(await readdir(lab.workdir), [], 'host run directory and lock removed');
  },
);

test.serial(
  'the link goes silent mid-migration (no FIN; QEMU lives on under the frozen connection): keepalives notice, the run reconnects and ends the orphaned pair before booting a fresh one',
  async (t) => {
    // the profile's keepalive options win over the transport's defaults (5 s × 3): lost within ~2 s
    const lab = await sshLab(t, 'sshsilent', '{ timeout: 90s, reconnectTimeout: 60s }', ['ServerAliveInterval=1', 'ServerAliveCountMax=2']);
    const loaded = await loadProfile(lab.profilePath);
    const log: string[] = [];
    const survivors: number[] = [];
    const hooks: MigrationHooks[] = [
      {
        async beforeMigration({ planned, source, destination }) {
          if (planned.seq !== 2) return;
          whenMigrationActive(source, 300, log, async () => {
            const frozenAt = Date.now();
            const pids = await lab.sshd.freeze();
            await lab.sshd.restart();
            survivors.push(source.process.pid, destination.process.pid);
            log.push(
              `sshd connections frozen (pids ${pids.join(', ')}), listener restarted in ${Date.now() - frozenAt} ms; the pair is pid ${survivors.join(', ')}`,
            );
          });
        },
      },
    ];
    const notes: string[] = [];
    const outcome = await runBenchmark(loaded, { iterations: 3, outDir: lab.resultsDir, progress: silentProgress(notes), hooks });
    t.log([...log, ...notes].join('\n'));
    const { records } = await readIterations(outcome.dir);
    t.deepEqual(
      records.map((r) => r.seq),
      [1, 2, 3],
    );
    t.deepEqual(
      records.map((r) => r.status),
      ['ok', 'failed', 'ok'],
      summary(records),
    );
    t.regex(records[1].reason!, /^lost the connection to host[AB] \(ssh root@127\.0\.0\.1 port \d+: the master connection closed/);
    t.is(survivors.length, 2, 'the pair was known when the link went silent');
    const ended = notes.filter((n) => /ended \d+ QEMU process(es)? of this run that outlived the connection/.test(n)).join('\n');
    for (const pid of survivors) t.regex(ended, new RegExp(`\\b${pid}\\b`), `QEMU pid ${pid} outlived the connection and was ended`);
    t.is(outcome.manifest.state, 'completed', outcome.manifest.stateReason);
    t.deepEqual(await qemuUnder(lab.workdir), [], 'no QEMU left behind');
  },
);

test.serial(
  'sshd dropped and never back: the run stops failed naming the host and since when, keeps what it completed; once sshd is back cleanup clears the rest and --resume finishes the run',
  async (t) => {
    const lab = await sshLab(t, 'sshgone', '{ timeout: 90s, reconnectTimeout: 8s }');
    const runWorkdir = join(lab.dir, 'run-workdir');
    const child = execa('node', [BIN, 'run', lab.profilePath, '--iterations', '4', '--workdir', runWorkdir, '--out', lab.resultsDir], {
      reject: false,
      all: true,
    });
    const runDir = await waitFor('the run directory', async () => {
      const entries = await readdir(lab.resultsDir).catch(() => [] as string[]);
      return entries.length === 1 ? join(lab.resultsDir, entries[0]) : undefined;
    });
    const recorded = async () => (await readFile(join(runDir, 'iterations.ndjson'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
    await waitFor('the first migration to be recorded', async () => (await recorded()).length >= 1, 150_000);
    await waitFor('a destination QEMU for migration 2', async () => (await qemuUnder(runWorkdir)).some((p) => p.cmdline.includes('vdpa-bench-2-dst')), 60_000);
    await waitFor('migration 2 to be active on its source', () => sourceTraceShows(runWorkdir, '0002-', 'migrate_set_state new state active'), 60_000);
    const before = await recorded();
    const droppedAt = Date.now();
    await lab.sshd.drop();
    const result = await child;
    const stoppedAfterMs = Date.now() - droppedAt;
    t.log(result.all);
    t.log(`the run stopped ${stoppedAfterMs} ms after sshd went away`);
    t.is(result.exitCode, 1);
    // it stops after one reconnect window ("no connection within 8 s" below), not cell after cell:
    // no migration after the one in flight is recorded (the count of records after the drop, below)
    t.regex(result.stderr, /vdpa-bench: error: host[AB]: unreachable since (\S+): ssh root@127\.0\.0\.1 port \d+: no connection within 8 s/);
    const since = Date.parse(/unreachable since (\S+):/.exec(result.stderr)![1]);
    t.true(since >= droppedAt - 1_000 && since <= droppedAt + 15_000, `since ${new Date(since).toISOString()}, dropped ${new Date(droppedAt).toISOString()}`);
    t.regex(result.stderr, /also unreachable: host[AB] since \d{4}-/, 'both hosts went with the one sshd');
    t.true(
      result.stderr.includes(`Once hostA and hostB are back, \`vdpa-bench cleanup ${lab.profilePath} --workdir ${runWorkdir}\` ends`),
      'names the cleanup command',
    );
    t.true(result.stderr.includes(`\`vdpa-bench run --resume ${runDir} --workdir ${runWorkdir}\` continues`), 'names the resume command');

    const manifest = await readJson<RunManifest>(join(runDir, 'manifest.json'));
    t.is(manifest.state, 'failed');
    t.regex(manifest.stateReason ?? '', /^host[AB]: unreachable since \d{4}-[\d-]+T[\d:.]+Z: ssh root@127\.0\.0\.1 port \d+/);
    t.truthy(manifest.finishedAt);
    const after = await recorded();
    t.deepEqual(after.slice(0, before.length), before, 'records written before the drop are untouched');
    // one record may land between reading `before` and the drop; then the migration in flight, failed
    t.true(after.length === before.length + 1 || after.length === before.length + 2, `${before.length} before, ${after.length} after`);
    const last = JSON.parse(after.at(-1)!) as IterationRecord;
    t.is(last.status, 'failed');
    t.regex(last.reason!, /^lost the connection to host[AB] \(ssh root@127\.0\.0\.1 port \d+: the master connection closed/);
    for (const line of after.slice(0, -1)) t.is((JSON.parse(line) as IterationRecord).status, 'ok');
    t.true(result.stderr.includes(`Its ${after.length} recorded migrations (${after.length - 1} ok) are kept in ${runDir} `), 'says what was kept and where');
    const report = await execa('node', [BIN, 'report', runDir, '--format', 'text', '--out', join(lab.dir, 'report')], { reject: false });
    t.is(report.exitCode, 0, report.stderr);
    t.regex(report.stdout, /slow/);

    // the host comes back: cleanup ends what the run could not and clears its lock
    await lab.sshd.restart();
    const cleanup = await execa('node', [BIN, 'cleanup', lab.profilePath, '--workdir', runWorkdir], { reject: false });
    t.log(cleanup.stdout, cleanup.stderr);
    t.is(cleanup.exitCode, 0);
    t.regex(cleanup.stdout, /cleared the stale lock of run sshgone-/);
    t.regex(cleanup.stdout, new RegExp(`run ${manifest.runId}: .*removed`));
    t.deepEqual(await qemuUnder(runWorkdir), [], 'no QEMU left after cleanup');
    t.deepEqual(await readdir(runWorkdir), [], 'run directory and lock gone');

    // and the run can be finished where it stopped
    const resumed = await execa('node', [BIN, 'run', '--resume', runDir, '--workdir', runWorkdir], { reject: false });
    t.is(resumed.exitCode, 0, resumed.stderr);
    const { records } = await readIterations(runDir);
    t.deepEqual(
      records.map((r) => r.seq),
      [1, 2, 3, 4],
      'each migration once: the failed one is not repeated',
    );
    t.deepEqual(
      records.map((r) => r.status),
      [...after.map((l) => (JSON.parse(l) as IterationRecord).status), 'ok', 'ok', 'ok'].slice(0, 4),
      summary(records),
    );
    t.is((await readJson<RunManifest>(join(runDir, 'manifest.json'))).state, 'completed');
    t.deepEqual(await qemuUnder(runWorkdir), [], 'no QEMU left after the resumed run');
  },
);
