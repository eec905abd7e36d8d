/**
 * The two-host soft lab end to end: two lab VMs (hostA, hostB) joined by a private link, hostB's
 * clock stepped by exactly +2.5 s, then a small run of profiles/softlab-two-hosts.yaml. Checks:
 * the harness recovers the step within its uncertainty; every migration crosses between the two
 * hosts; every recorded clock offset lies within its uncertainty of the offset measured around the
 * step; every `ok` migration's vdpa downtime recomputes from its two trace files with its recorded
 * offset (`vdpa-bench downtime --clock-offset-us`); the manifest records each host's time sync.
 * Then every ssh connection to hostB is dropped mid-migration (hostA untouched): that migration
 * fails naming hostB, the run reconnects, completes, and leaves no QEMU on either lab VM.
 * Slow (TCG): runs with VDPA_BENCH_SLOW=1 (.ci/run sets it).
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { exchangeClock } from '../../harness/hosts/clock.ts';
import { missingBuildTools } from '../../harness/softlab/build.ts';
import { stepClock } from '../../harness/softlab/clock-step.ts';
import { pairTransport } from '../../harness/softlab/pair.ts';
import { recomputeDowntimeArgs } from '../../harness/cli/recompute-args.ts';
import { readIterations, readManifest } from '../../harness/results/store.ts';
import { loadProfile } from '../../harness/profile/load.ts';
import { runBenchmark } from '../../harness/run/run.ts';
import type { SshTransport } from '../../harness/hosts/ssh.ts';
import { lastLine, REPO, vdpaBench } from '../helpers/cli.ts';
import { comparePlanWithRun, unexplainedLaunches } from '../helpers/plan-argv.ts';
import { silentProgress, whenMigrationActive } from '../helpers/fault-lab.ts';
import type { DowntimeJson } from '../../harness/cli/downtime-command.ts';
import { parseJson, type ProfileYaml } from '../helpers/json.ts';

const STEP_S = 2.5;

async function whyCannotRun(): Promise<string | null> {
  if (process.env.VDPA_BENCH_SLOW !== '1') return 'slow test: run with VDPA_BENCH_SLOW=1 (.ci/run does)';
  if (process.getuid?.() !== 0) return 'not running as root (debootstrap, chroot and mounts need root)';
  const missing = await missingBuildTools();
  return missing.length ? `missing host tools: ${missing.join(', ')} (.ci/run installs them)` : null;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const reason = await whyCannotRun();
if (reason) {
  console.warn(`two-host softlab smoke test SKIPPED: ${reason}`);
  test.skip(`two-host softlab smoke (skipped: ${reason})`, () => {});
} else {
  test.serial(
    'two-host soft lab: the migration crosses the link, the injected clock step is recovered and every ok downtime recomputes from its traces',
    async (t) => {
      const timings: Record<string, number> = {};
      let started = performance.now();
      const build = await vdpaBench(['softlab', 'build'], { timeout: 3_600_000 });
      t.is(build.exitCode, 0, build.stderr);
      timings.buildSeconds = (performance.now() - started) / 1000;

      let port = 10031;
      while (!((await portFree(port)) && (await portFree(port + 1))) && port < 10100) port += 2;
      started = performance.now();
      const up = await vdpaBench(['softlab', 'up', '--two-hosts', '--port', String(port), '--memory', '3G'], { timeout: 1_200_000 });
      const ours = !/already up/.test(up.stderr);
      t.teardown(async () => {
        if (ours) await vdpaBench(['softlab', 'down', '--two-hosts'], { timeout: 120_000 });
      });
      t.is(up.exitCode, 0, up.stderr);
      timings.upSeconds = (performance.now() - started) / 1000;
      const ports = [...up.stdout.matchAll(/ssh: host \S+ port (\d+)/g)].map((m) => Number(m[1]));
      const knownHosts = [...up.stdout.matchAll(/knownHostsFile: (.+)/g)].map((m) => m[1].trim());
      const identity = /identityFile: (.+)/.exec(up.stdout)![1].trim();
      t.is(ports.length, 2);
      t.regex(up.stdout, /hostA: link \S+ 10\.13\.0\.1/);
      t.regex(up.stdout, /hostB: link \S+ 10\.13\.0\.2/);

      // the step, measured as the harness measures it
      const a = await pairTransport('hostA');
      const b = await pairTransport('hostB');
      let after;
      try {
        const before = await exchangeClock(16).estimate(a, b);
        await stepClock(b, STEP_S);
        after = await exchangeClock(16).estimate(a, b);
        const measured = after.offsetUs - before.offsetUs;
        t.log(
          `offset before ${before.offsetUs} ± ${before.uncertaintyUs} µs, after +${STEP_S} s step ${after.offsetUs} ± ${after.uncertaintyUs} µs: measured step ${measured} µs`,
        );
        t.true(
          Math.abs(measured - STEP_S * 1e6) <= before.uncertaintyUs + after.uncertaintyUs,
          `measured step ${measured} µs is not ${STEP_S * 1e6} within ±${before.uncertaintyUs + after.uncertaintyUs}`,
        );
      } finally {
        await a.close();
        await b.close();
      }

      const dir = await mkdtemp(join(tmpdir(), 'vb-two-hosts-smoke-'));
      const profile = parse(await readFile(join(REPO, 'profiles/softlab-two-hosts.yaml'), 'utf8')) as ProfileYaml;
      profile.hosts.forEach((h, i) => Object.assign(h.transport, { port: ports[i], identityFile: identity, knownHostsFile: knownHosts[i] }));
      const profilePath = join(dir, 'softlab-two-hosts.yaml');
      await writeFile(profilePath, stringify(profile));
      started = performance.now();
      const run = await vdpaBench(
        ['run', profilePath, '--vm-size', '128M', '--iterations', '2', '--warmup', '0', '--out', join(dir, 'results'), '--no-report'],
        { timeout: 3_600_000 },
      );
      timings.runSeconds = (performance.now() - started) / 1000;
      t.log(`timings: ${JSON.stringify(timings)}`);
      t.log(
        run.stderr
          .split('\n')
          .filter((l) => /^\[/.test(l))
          .join('\n'),
      );
      const runDir = lastLine(run.stdout);
      const manifest = await readManifest(runDir);
      t.truthy(manifest, `no manifest in ${runDir}: ${run.stderr}`);
      for (const host of manifest!.hosts as Array<{ name: string; timeSync?: { summary: string } }>)
        t.regex(host.timeSync?.summary ?? '', /no time synchronisation/, `${host.name}: time sync not recorded`);

      const { records } = await readIterations(runDir);
      t.is(records.length, 4, 'two variants × two migrations');
      t.true(
        records.some((r) => r.status === 'ok'),
        records.map((r) => r.reason).join(' | '),
      );
      // plan with this run's facts printed every QEMU command line it started on either host, byte for byte
      const comparison = await comparePlanWithRun(runDir, await loadProfile(profilePath), { vmSizes: ['128M'], iterations: 2, warmup: 0 });
      t.deepEqual(comparison.mismatches, []);
      t.deepEqual(unexplainedLaunches(comparison, records), []);
      t.true(comparison.matched >= 8, `${comparison.matched} matched`);
      for (const r of records) {
        const label = `migration ${r.seq} (${r.variant}, ${r.from}→${r.to})`;
        t.not(r.from, r.to, `${label}: did not cross between the hosts`);
        t.regex(r.traces.source, new RegExp(`-${r.from}\\.log$`));
        t.regex(r.traces.destination, new RegExp(`-${r.to}\\.log$`));
        if (r.status !== 'ok') continue;
        const expected = r.to === 'hostB' ? after.offsetUs : -after.offsetUs;
        t.true(
          Math.abs(r.clock!.offsetUs - expected) <= r.clock!.uncertaintyUs + after.uncertaintyUs,
          `${label}: recorded offset ${r.clock!.offsetUs} ± ${r.clock!.uncertaintyUs} µs, measured around the step ${expected} ± ${after.uncertaintyUs} µs`,
        );
        const recomputed = await vdpaBench(recomputeDowntimeArgs(runDir, r, 'vdpa')!);
        t.is(recomputed.exitCode, 0, recomputed.stderr);
        t.is(
          parseJson<DowntimeJson>(recomputed.stdout).downtimeMs as number | null,
          r.metrics.vdpa,
          `${label}: the recorded vdpa downtime does not recompute from its traces`,
        );
      }

      await dropHostBMidMigration(t, { dir, profile });
    },
  );
}

/** Processes on a lab VM whose command line names QEMU (the harness's guests, source or destination). */
async function qemuOn(host: SshTransport): Promise<string[]> {
  const found = await host.run(['pgrep', '-a', '-f', '^\\S*qemu-system'], { allowFailure: true });
  return found.stdout.split('\n').filter(Boolean);
}

/**
 * The dropped connection, on one of two real hosts: while migration 2 (hostB→hostA) is active,
 * every sshd session process on hostB is killed (its sshd listener stays, as on a host whose link
 * blipped), so the harness's master connection, its QMP forward and QEMU's launch sessions to
 * hostB all go at once, while hostA's connection lives on.
 */
async function dropHostBMidMigration(
  t: ExecutionContext,
  lab: { dir: string; profile: Record<string, unknown> & { variants: Array<Record<string, unknown>> } },
) {
  const profile = {
    ...lab.profile,
    name: 'softlab-two-hosts-drop',
    // 400 kB/s stretches the 256M guest's migration to seconds: a window to drop hostB in
    variants: [{ ...lab.profile.variants[0], parameters: { 'max-bandwidth': 400_000 } }],
    matrix: { vmSizes: ['256M'], queuePairs: [1], variants: [lab.profile.variants[0].name] },
    iterations: 3,
    warmup: 0,
    precision: undefined,
    compare: undefined,
    migration: { timeout: '5m', qmpTimeout: '2m', reconnectTimeout: '2m' },
  };
  const profilePath = join(lab.dir, 'softlab-two-hosts-drop.yaml');
  await writeFile(profilePath, stringify(profile));
  const hostB = await pairTransport('hostB');
  const hostA = await pairTransport('hostA');
  const log: string[] = [];
  const notes: string[] = [];
  try {
    const outcome = await runBenchmark(await loadProfile(profilePath), {
      outDir: join(lab.dir, 'drop-results'),
      progress: silentProgress(notes),
      hooks: [
        {
          async beforeMigration({ planned, source }) {
            if (planned.seq !== 2) return;
            whenMigrationActive(source, 300, log, async (completed) => {
              // detached, so the kill does not wait on the session it is about to end
              await hostB.run(['setsid', '-f', 'sh', '-c', 'sleep 0.2; pkill -KILL -f "^sshd(-session)?: root"'], { allowFailure: true });
              log.push(`hostB: every sshd session killed${completed ? ' AFTER completion' : ' mid-migration'} at ${new Date().toISOString()}`);
            });
          },
        },
      ],
    });
    t.log([...log, ...notes].join('\n'));
    t.true(
      log.some((l) => l.includes('mid-migration')),
      'hostB was dropped while migration 2 was running',
    );
    const { records } = await readIterations(outcome.dir);
    const statuses = records.map((r) => `${r.seq} ${r.from}→${r.to} ${r.status} ${r.reason ?? ''}`).join('\n');
    t.deepEqual(
      records.map((r) => r.status),
      ['ok', 'failed', 'ok'],
      statuses,
    );
    t.regex(records[1].reason ?? '', /^lost the connection to hostB \(ssh root@127\.0\.0\.1 port \d+: the master connection closed/, statuses);
    t.true(
      notes.some((n) => /^hostB: connection back after [\d.]+ s/.test(n)),
      notes.join('\n'),
    );
    t.is(outcome.manifest.state, 'completed', outcome.manifest.stateReason);
    // a fresh session each: the test's own masters went with hostB's sessions too
    await hostB.close().catch(() => undefined);
    await hostA.close().catch(() => undefined);
    const [onA, onB] = await Promise.all([pairTransport('hostA'), pairTransport('hostB')]);
    try {
      t.deepEqual(await qemuOn(onA), [], 'no QEMU left on hostA');
      t.deepEqual(await qemuOn(onB), [], 'no QEMU left on hostB');
    } finally {
      await onA.close();
      await onB.close();
    }
  } finally {
    await hostA.close().catch(() => undefined);
    await hostB.close().catch(() => undefined);
  }
}
