/**
 * A newcomer's machine (issue 23): no QEMU of the host's on PATH (the lab in a box runs QEMU from
 * the trixie root it debootstraps) and a /dev/kvm that exists but cannot run the guest. The KVM
 * probe must run the QEMU the run will launch, inside its root, and say so; the README's first
 * command must then run under TCG, with every migration ok and the reason in the manifest. Before
 * the probe ran the run's own QEMU, the host's missing QEMU read as "kvm usable" and every
 * migration failed at QEMU's start.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeKvm } from '../../harness/hosts/kvm-probe.ts';
import { loadProfile } from '../../harness/profile/load.ts';
import { provisionQemuRoot, qemuRootsDir } from '../../harness/provision/qemu-root.ts';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { cacheRoot } from '../../harness/guest/build.ts';
import { qemuInvocation } from '../../harness/qemu/command.ts';
import { invocationLabel, ROOT_QEMU_BINARY } from '../../harness/qemu/root.ts';
import { parseIterations } from '../../harness/results/store.ts';
import type { RunManifest } from '../../harness/results/types.ts';
import { lastLine, REPO } from '../helpers/cli.ts';
import { freshMachineTransport, OWN_KVM_DEVICE, vdpaBenchOnFreshMachine } from '../helpers/fresh-machine.ts';
import { requires } from '../helpers/requires.ts';

const test = requires('root');
const PROFILE = join(REPO, 'profiles/lab-in-a-box.yaml');

/** The trixie root the lab in a box runs QEMU from (built once, minutes, when the cache has none). */
async function trixieRoot(): Promise<string> {
  const here = new LocalTransport('this machine');
  try {
    const record = await provisionQemuRoot(here, { rootsDir: qemuRootsDir({ transport: { kind: 'local' } }, cacheRoot()), suite: 'trixie' });
    return record.root;
  } finally {
    await here.close();
  }
}

test.serial('the KVM probe boots the run’s own QEMU in its root: unusable here, and a QEMU that cannot run is unknown, never usable', async (t) => {
  t.timeout(30 * 60_000);
  const root = await trixieRoot();
  const host = freshMachineTransport('hostA');
  const rooted = qemuInvocation({ qemu: {} }, ROOT_QEMU_BINARY, root);
  const inRoot = await probeKvm(host, { invocation: rooted, label: invocationLabel(rooted), machine: 'pc' });
  t.log(`${invocationLabel(rooted)}: ${inRoot.verdict}: ${inRoot.reason}`);
  if (!OWN_KVM_DEVICE) {
    // the KVM device node without a driver: QEMU opens it and fails, while the same boot under TCG runs
    t.is(inRoot.verdict, 'unusable');
    t.regex(inRoot.reason, /with -accel kvm -cpu host -machine pc failed: .*kvm.*\(the same boot under TCG ran\)$/);
  }
  t.regex(inRoot.reason, new RegExp(`in ${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  // the host's own QEMU is not on the fresh machine's PATH: the probe cannot tell, and says so
  const hostQemu = await probeKvm(host, { invocation: ['qemu-system-x86_64'], label: 'qemu-system-x86_64', machine: 'pc' });
  t.is(hostQemu.verdict, 'unknown');
  t.regex(hostQemu.reason, /qemu-system-x86_64: command not found/);
});

test.serial(
  'the README’s first command on a fresh machine: TCG chosen by probing the trixie root’s QEMU, the reason recorded, every migration ok',
  async (t) => {
    t.timeout(30 * 60_000);
    const { profile } = await loadProfile(PROFILE);
    const variant = profile.matrix.variants?.[0] ?? profile.variants[0].name;
    const vmSize = profile.matrix.vmSizes[0];
    const out = await mkdtemp(join(tmpdir(), 'vdpa-bench-fresh-run-'));
    t.teardown(() => rm(out, { recursive: true, force: true }));
    const started = Date.now();
    const run = await vdpaBenchOnFreshMachine(
      [
        'run',
        PROFILE,
        '--variant',
        variant,
        '--vm-size',
        vmSize,
        '--iterations',
        '1',
        '--warmup',
        '0',
        '--out',
        out,
        '--no-report',
        '--workdir',
        join(out, 'work'),
      ],
      25 * 60_000,
    );
    t.log(`${variant} ${vmSize}, 1 migration: exit ${run.exitCode} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (run.exitCode !== 0) t.log(run.all?.split('\n').slice(-12).join('\n'));
    t.is(run.exitCode, 0);
    const dir = lastLine(run.stdout);
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as RunManifest;
    t.log(`accel: ${manifest.accel.used}: ${manifest.accel.reason}`);
    t.is(manifest.accel.requested, 'auto');
    t.is(manifest.accel.used, 'tcg');
    t.regex(manifest.accel.reason, /^auto: KVM is not (usable|known to work) on host[AB] \(/);
    t.regex(run.stderr, /accelerator: tcg \(auto: KVM is not/);
    // both hosts probed the QEMU the run launched: the trixie root's, not the host's PATH
    t.deepEqual(manifest.accel.probes?.map((p) => p.host).sort(), ['hostA', 'hostB']);
    for (const p of manifest.accel.probes ?? []) {
      t.regex(p.qemu, /^\/usr\/bin\/qemu-system-x86_64 in \S+\/qemu-roots\/trixie$/);
      t.not(p.verdict, 'usable');
      t.true(p.variants.includes(variant));
    }
    const { records } = parseIterations(await readFile(join(dir, 'iterations.ndjson'), 'utf8'));
    t.is(records.length, 1);
    t.deepEqual(
      records.map((r) => [r.status, r.accel, r.reason]),
      records.map(() => ['ok', 'tcg', undefined]),
    );
    t.is(manifest.state, 'completed');
  },
);
