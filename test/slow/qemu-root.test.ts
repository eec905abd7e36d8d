/**
 * QEMU from a Debian suite for real: provision trixie's root (debootstrap, ~3-7 minutes the first
 * time; the root is cached in VDPA_BENCH_QEMU_ROOT_CACHE, default /var/tmp/vdpa-bench-qemu-root-test,
 * so a second run takes about a minute), then run the local lab with `qemu: { debian: trixie }`
 * beside the host's QEMU: the manifest records the exact package version, the checkpoint metric
 * and the downtime phases exist for the suite's QEMU, and no mount is left below the root, not
 * even after a rooted QEMU is SIGKILLed. Runs with VDPA_BENCH_SLOW=1 as root.
 */
import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { provisionQemuRoot } from '../../harness/provision/qemu-root.ts';
import { bindPlan, rootedInvocation, ROOT_QEMU_BINARY } from '../../harness/qemu/root.ts';
import { readIterations, readManifest } from '../../harness/results/store.ts';
import { lastLine, vdpaBench } from '../helpers/cli.ts';

const cache = process.env.VDPA_BENCH_QEMU_ROOT_CACHE ?? '/var/tmp/vdpa-bench-qemu-root-test';
const skip =
  process.env.VDPA_BENCH_SLOW !== '1'
    ? 'slow test: run with VDPA_BENCH_SLOW=1'
    : process.getuid?.() !== 0
      ? 'not root (debootstrap, chroot and mounts need root)'
      : null;

const mountsBelow = async (dir: string) => (await readFile('/proc/self/mounts', 'utf8')).split('\n').filter((l) => l.split(' ')[1]?.startsWith(dir + '/'));

if (skip) test.skip(`QEMU from a Debian suite (skipped: ${skip})`, () => {});
else
  test.serial('trixie QEMU from a provisioned root: migrates in the local lab, version in the manifest, checkpoint phases, nothing left mounted', async (t) => {
    const started = performance.now();
    const local = new LocalTransport('here');
    const record = await provisionQemuRoot(local, { rootsDir: join(cache, 'qemu-roots'), suite: 'trixie', log: (l) => t.log(l) });
    t.regex(record.version, /^1:10\.0\.\d+/);
    t.log(`root ${record.action} in ${record.seconds} s: qemu-system-x86 ${record.version}`);

    // a rooted QEMU killed with SIGKILL leaves nothing mounted: the mounts lived in its own namespace
    const qemu = execa(
      rootedInvocation(record.root, ROOT_QEMU_BINARY, bindPlan(record.root))[0],
      [...rootedInvocation(record.root, ROOT_QEMU_BINARY, bindPlan(record.root)).slice(1), '-machine', 'none', '-display', 'none', '-nodefaults', '-S'],
      { reject: false },
    );
    await new Promise((r) => setTimeout(r, 1500));
    t.true(qemu.exitCode === undefined || qemu.exitCode === null, 'the rooted QEMU is running');
    const exe = await readFile(`/proc/${qemu.pid}/cmdline`, 'utf8');
    t.true(exe.startsWith(ROOT_QEMU_BINARY), 'the pid the harness started is QEMU itself (unshare, sh and chroot exec)');
    qemu.kill('SIGKILL');
    await qemu;
    t.deepEqual(await mountsBelow(record.root), []);

    const dir = await mkdtemp(join(tmpdir(), 'vb-qemu-root-'));
    const profile = {
      name: 'qemu-root-test',
      hosts: [
        { name: 'a', workdir: join(dir, 'work') },
        { name: 'b', workdir: join(dir, 'work') },
      ],
      vm: { accel: 'tcg', memory: { backend: 'file', share: true } },
      variants: [
        { name: 'host', qemu: { binary: 'qemu-system-x86_64' } },
        { name: 'trixie', qemu: { debian: 'trixie' } },
      ],
      matrix: { vmSizes: ['256M'] },
      iterations: 1,
      warmup: 0,
      trace: { events: ['runstate_set', 'vmstate_downtime_checkpoint'] },
      metrics: { primary: 'runstate', use: ['runstate', 'checkpoint'] },
    };
    const file = join(dir, 'profile.yaml');
    await writeFile(file, stringify(profile));
    const run = await vdpaBench(['run', file, '--out', join(dir, 'results')], { env: { VDPA_BENCH_CACHE: cache }, timeout: 900_000 });
    t.is(run.exitCode, 0, run.stderr);
    const runDir = lastLine(run.stdout);
    const manifest = (await readManifest(runDir))!;
    const trixie = manifest.variants.find((v) => v.name === 'trixie')!;
    t.is(trixie.debian?.a?.version, record.version);
    t.is(trixie.debian?.a?.root, record.root);
    t.regex(trixie.qemuVersion.a, /QEMU emulator version 10\.0\./);
    t.regex(manifest.variants.find((v) => v.name === 'host')!.qemuVersion.a, /QEMU emulator version/);
    const { records } = await readIterations(runDir);
    const mine = records.find((r) => r.variant === 'trixie')!;
    t.is(mine.status, 'ok', mine.reason);
    t.is(typeof mine.metrics.checkpoint, 'number', mine.metricErrors?.checkpoint);
    const phases = (mine.extra?.downtimePhases as { phases: { name: string; durationMs: number }[] }).phases;
    t.deepEqual(
      phases.map((p) => p.name),
      ['source stop', 'iterable state saved', 'non-iterable state saved', 'destination load completed', 'device start'],
    );
    t.true(phases.every((p) => p.durationMs >= 0));
    t.deepEqual(await mountsBelow(record.root), [], 'nothing mounted below the root after the run');
    await local.close();
    t.log(`whole test ${((performance.now() - started) / 1000).toFixed(0)} s`);
  });
