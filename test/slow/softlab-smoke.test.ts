/**
 * The soft lab end to end: build (cached on the machine), boot the lab VM, run both variants of
 * profiles/softlab.yaml at one size with real vhost-vDPA devices (vdpa_sim_net), and check every
 * `ok` migration against its own trace files. Slow (10+ minutes on a busy 2-core machine, most of
 * it TCG), so it runs when VDPA_BENCH_SLOW=1 (.ci/run sets it) with a long ava timeout; then it is
 * skipped, saying why, only when the build cannot run on this machine at all (not root, no
 * debootstrap).
 */
import test from 'ava';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { missingBuildTools } from '../../harness/softlab/build.ts';
import { readIterations, readManifest } from '../../harness/results/store.ts';
import { parseTrace } from '../../harness/traces/parse.ts';
import { loadProfile } from '../../harness/profile/load.ts';
import { lastLine, REPO, vdpaBench } from '../helpers/cli.ts';
import type { ProfileYaml } from '../helpers/json.ts';
import { comparePlanWithRun, unexplainedLaunches } from '../helpers/plan-argv.ts';

async function whyBuildCannotRun(): Promise<string | null> {
  if (process.env.VDPA_BENCH_SLOW !== '1') return 'slow test: run with VDPA_BENCH_SLOW=1 (.ci/run does)';
  if (process.getuid?.() !== 0) return 'not running as root (debootstrap, chroot and mounts need root)';
  const missing = await missingBuildTools();
  return missing.length ? `missing host tools: ${missing.join(', ')} (.ci/run installs them)` : null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const reason = await whyBuildCannotRun();
if (reason) {
  console.warn(`softlab smoke test SKIPPED: ${reason}`);
  test.skip(`softlab smoke (skipped: ${reason})`, () => {});
} else {
  test.serial('softlab smoke: both variants migrate real vhost-vDPA devices and every ok migration is backed by its traces', async (t) => {
    const timings: Record<string, number> = {};
    let started = performance.now();
    const build = await vdpaBench(['softlab', 'build'], { timeout: 3_600_000 });
    t.is(build.exitCode, 0, build.stderr);
    timings.buildSeconds = (performance.now() - started) / 1000;

    const cache = await mkdtemp(join(tmpdir(), 'vb-softlab-smoke-'));
    const port = await freePort();
    started = performance.now();
    const up = await vdpaBench(['softlab', 'up', '--port', String(port), '--memory', '4G'], { timeout: 900_000 });
    const ours = !/already up/.test(up.stderr);
    t.teardown(async () => {
      if (ours) await vdpaBench(['softlab', 'down'], { timeout: 120_000 });
    });
    t.is(up.exitCode, 0, up.stderr);
    const labPort = Number(/ssh: host \S+ port (\d+)/.exec(up.stdout)![1]);
    timings.upSeconds = (performance.now() - started) / 1000;
    const identity = /identityFile: (.+)/.exec(up.stdout)![1].trim();
    const knownHosts = /knownHostsFile: (.+)/.exec(up.stdout)![1].trim();

    const profile = parse(await readFile(join(REPO, 'profiles/softlab.yaml'), 'utf8')) as ProfileYaml;
    Object.assign(profile.hosts[0].transport, { port: labPort, identityFile: identity, knownHostsFile: knownHosts });
    const profilePath = join(cache, 'softlab-smoke.yaml');
    await writeFile(profilePath, stringify(profile));

    started = performance.now();
    const run = await vdpaBench(['run', profilePath, '--vm-size', '256M', '--iterations', '2', '--warmup', '0', '--out', join(cache, 'results')], {
      timeout: 1_800_000,
    });
    timings.runSeconds = (performance.now() - started) / 1000;
    t.log(`timings: ${JSON.stringify(timings)}`);
    t.log(
      run.stderr
        .split('\n')
        .filter((l) => /^\[|migrations:/.test(l))
        .join('\n'),
    );
    const runDir = lastLine(run.stdout);
    const manifest = await readManifest(runDir);
    t.truthy(manifest, `no manifest in ${runDir}: ${run.stderr}`);
    const versions = manifest!.variants.map((v) => `${v.name}: ${Object.values(v.qemuVersion)[0]}`).join('; ');
    t.regex(versions, /before: QEMU emulator version 10\.0\./);
    t.regex(versions, /after: QEMU emulator version 11\./);

    const { records } = await readIterations(runDir);
    t.is(records.length, 4, 'two variants × two migrations');
    for (const variant of ['before', 'after']) {
      t.true(
        records.some((r) => r.variant === variant && r.status === 'ok'),
        `${variant}: no ok migration: ${records
          .filter((r) => r.variant === variant)
          .map((r) => r.reason)
          .join(' | ')}`,
      );
    }
    // plan with this run's facts (its /dev/vhost-vdpa-N, run id) printed every QEMU command line the run started, byte for byte
    const comparison = await comparePlanWithRun(runDir, await loadProfile(profilePath), { vmSizes: ['256M'], iterations: 2, warmup: 0 });
    t.deepEqual(comparison.mismatches, []);
    t.deepEqual(unexplainedLaunches(comparison, records), []);
    t.true(comparison.matched >= 8, `two VM boots, a source, a destination and the run directories each at least: ${comparison.matched} matched`);
    for (const r of records.filter((x) => x.status === 'ok')) {
      const label = `migration ${r.seq} (${r.variant})`;
      const source = parseTrace(await readFile(join(runDir, r.traces.source), 'utf8')).events;
      const destination = parseTrace(await readFile(join(runDir, r.traces.destination), 'utf8')).events;
      t.true(
        source.some((e) => e.name === 'vhost_vdpa_suspend'),
        `${label}: no vhost_vdpa_suspend in the source trace`,
      );
      t.true(
        destination.some((e) => e.name === 'vhost_vdpa_set_vring_enable_one' && /enable: 1\b/.test(e.args)),
        `${label}: no vring enable on the destination`,
      );
      for (const m of ['vdpa', 'vdpa-ready', 'checkpoint']) t.is(typeof r.metrics[m], 'number', `${label}: ${m} not computed: ${r.metricErrors?.[m]}`);
      t.true(r.metrics['vdpa-ready']! >= r.metrics['vdpa']!, `${label}: vdpa-ready ends before vdpa`);
      t.truthy(
        (r.extra as { guestDevice?: { source?: { driverOk?: boolean } } })?.guestDevice?.source?.driverOk,
        `${label}: counted without DRIVER_OK on the source`,
      );
      t.truthy((r.extra as { vdpaReadyGap?: unknown })?.vdpaReadyGap, `${label}: vdpa vs vdpa-ready not recorded`);
    }
  });
}
