/**
 * The lab in a box for real (as root): a built Linux guest migrating between two network
 * namespaces, probed from a third; and the namespaces gone afterwards, after Ctrl-C, and after
 * the harness was killed and the next cleanup ran.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOwnedLabs, type OwnedLab } from '../helpers/labs.ts';
import { BIN, lastLine, REPO, vdpaBench } from '../helpers/cli.ts';
import { readIterations, readManifest } from '../../harness/results/store.ts';
import { loadProfile } from '../../harness/profile/load.ts';
import { NAMESPACE_PREFIX } from '../../harness/labbox/netns.ts';
import { comparePlanWithRun, unexplainedLaunches } from '../helpers/plan-argv.ts';
import { requires } from '../helpers/requires.ts';

const test = requires('root', 'qemu');

const CUT_DOWN = ['--vm-size', '512M', '--variant', 'limit-300ms', '--iterations', '1', '--warmup', '0'];

async function namespaces(): Promise<string[]> {
  return String((await execa('ip', ['netns', 'list'])).stdout)
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter(Boolean);
}

async function namespacePids(ns: string): Promise<number[]> {
  const r = await execa('ip', ['netns', 'pids', ns], { reject: false });
  return String(r.stdout).split('\n').filter(Boolean).map(Number);
}

/** Running, not merely a zombie: an orphan killed by cleanup stays a zombie until something reaps it. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

async function ended(pid: number, withinMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** Starts a run and resolves once its lab exists and a QEMU process runs in the first host namespace. */
async function startRunUntilQemu(out: string) {
  const child = execa(process.execPath, [BIN, 'run', 'profiles/lab-in-a-box.yaml', ...CUT_DOWN, '--out', out, '--workdir', join(out, 'hosts'), '--no-report'], {
    cwd: REPO,
    reject: false,
  });
  const deadline = Date.now() + 600_000;
  let lab: OwnedLab | undefined;
  let qemu: number[] = [];
  while (Date.now() < deadline && child.exitCode === null) {
    lab ??= (await readOwnedLabs()).find((l) => l.pid === child.pid);
    if (lab) {
      const hostA = lab.namespaces.find((n) => n.endsWith('-hostA'))!;
      // only a guest QEMU (named vdpa-bench-<seq>-src): `-trace help` and timestamp probes run in the namespace too and exit at once
      const pids = (await namespaces()).includes(hostA) ? await namespacePids(hostA) : [];
      qemu = [];
      for (const pid of pids) if (/\0-name\0vdpa-bench-\d+-src\0/.test(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''))) qemu.push(pid);
      if (qemu.length > 0) break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  if (!lab || qemu.length === 0) {
    child.kill('SIGKILL');
    const r = await child;
    throw new Error(`the run never got as far as a QEMU in its namespace: ${String(r.stderr).slice(-500)}`);
  }
  return { child, lab, qemu };
}

test.serial('a short real run records trace, QMP, network and integrity figures, then removes its namespaces', async (t) => {
  t.timeout(20 * 60_000);
  const out = await mkdtemp(join(tmpdir(), 'vb-labbox-'));
  try {
    const before = new Set(await namespaces());
    // the dirtying variant and the idle control: each guest boots with its own workload
    const r = await vdpaBench(
      ['run', 'profiles/lab-in-a-box.yaml', ...CUT_DOWN, '--variant', 'idle', '--out', out, '--workdir', join(out, 'hosts'), '--no-report'],
      { timeout: 18 * 60_000 },
    );
    t.is(r.exitCode, 0, r.stderr);
    const dir = lastLine(r.stdout);
    const manifest = (await readManifest(dir))!;
    t.is(manifest.state, 'completed');
    // trixie's QEMU 10.0 traces vmstate_downtime_checkpoint: the checkpoint metric is computed beside runstate
    t.deepEqual(manifest.metrics.names, ['runstate', 'checkpoint', 'network', 'network-rx-gap']);
    t.regex(manifest.variants[0].debian?.hostA.version ?? '', /^1:10\.0\./);
    const lab = manifest.labBox!;
    t.regex(lab.guest.kernelRelease, /cloud-amd64$/);
    t.true(lab.guest.modules.includes('virtio_net'));

    const { records } = await readIterations(dir);
    t.deepEqual(records.map((x) => x.variant).sort(), ['idle', 'limit-300ms']);
    for (const x of records) {
      const consoleText = await readFile(
        join(
          dir,
          'console',
          (await readdir(join(dir, 'console'))).find((f) => f.startsWith(String(x.seq).padStart(4, '0')) && f.includes('-src-'))!,
        ),
        'utf8',
      );
      t.regex(
        consoleText,
        x.variant === 'idle' ? /vb-ready .*ws_mb=0 / : /vb-ready .*ws_mb=256 .*rate_mbps=190 /,
        `${x.variant}'s guest runs its own workload`,
      );
      t.true(x.qmp!.ram!.dirtySyncCount! >= 1);
    }
    // Under TCG a migrated guest is sometimes damaged (about 1 in 20 here): then the harness must
    // say so with the console evidence, and the other migration carries the figures.
    for (const x of records.filter((r) => r.status !== 'ok')) {
      t.regex(x.reason ?? '', /guest failed its checks after migration/, `${x.variant}: ${x.reason}`);
      t.is(x.downtimeMs, null);
    }
    const record = records.find((x) => x.status === 'ok' && x.variant === 'limit-300ms') ?? records.find((x) => x.status === 'ok');
    if (!record) return t.fail(`no migration was ok: ${records.map((x) => x.reason).join(' / ')}`);
    t.is(record.status, 'ok', record.reason);
    t.true(record.metrics.runstate! > 0);
    t.true(record.qmp!.downtimeMs! >= 0 && record.qmp!.totalTimeMs! > 0);
    const network = record.extra!.network!;
    const integrity = record.extra!.integrity!;
    t.is(integrity.verdict, 'ok');
    t.deepEqual(integrity.evidence, []);
    const why = JSON.stringify({ metricErrors: record.metricErrors, network });
    t.is(typeof record.metrics.network, 'number', why);
    t.is(typeof record.metrics['network-rx-gap'], 'number', why);
    if (typeof record.metrics.network !== 'number' || !('sent' in network)) return t.fail(why);
    // the guest stops for the whole runstate span: probes sent then cannot be answered
    t.true(network.lostRun !== null && network.lostRun.probes >= 1, why);
    t.is(record.metrics.network, network.lostRun!.probes);
    t.true(
      record.metrics['network-rx-gap']! >= record.metrics.network! - 1,
      `rx gap ${record.metrics['network-rx-gap']} vs lost run ${record.metrics.network}`,
    );
    t.true(network.sent > 1000, 'probing covered more than a second');
    t.regex(await readFile(network.log, 'utf8'), /^# rate=1000 /);
    // the longest outage the peer saw is the switchover the traces saw
    const span = record.metricAnchors!.runstate;
    t.true(
      network.lostRun!.fromUs <= span.end.timeUs && network.lostRun!.toUs >= span.start.timeUs,
      `lost run ${JSON.stringify(network.lostRun)} vs runstate ${span.start.timeUs}..${span.end.timeUs}`,
    );

    // plan with this run's facts printed every QEMU command line and probe the run started, byte for byte
    const loaded = await loadProfile('profiles/lab-in-a-box.yaml');
    for (const host of loaded.profile.hosts) host.workdir = join(out, 'hosts');
    const comparison = await comparePlanWithRun(dir, loaded, { vmSizes: ['512M'], variants: ['limit-300ms', 'idle'], iterations: 1, warmup: 0 });
    t.deepEqual(comparison.mismatches, []);
    t.deepEqual(comparison.notStarted, []);
    t.deepEqual(unexplainedLaunches(comparison, records), []);
    // two VM boots (a source, a destination and their run directories each) and a probe per migration whose guest answered
    t.true(comparison.matched >= 8, `${comparison.matched}`);

    // only this run's namespaces: other test files (the firewall testbed) make their own concurrently
    const runPrefix = lab.network!.namespaces.hostA.replace(/-hostA$/, '-');
    t.regex(runPrefix, new RegExp(`^${NAMESPACE_PREFIX}[0-9a-f]{6}-$`));
    const left = (await namespaces()).filter((n) => !before.has(n) && n.startsWith(runPrefix));
    t.deepEqual(left, [], 'namespaces of the run are gone');
    for (const ns of Object.values(lab.network!.namespaces)) t.false((await namespaces()).includes(ns));
    t.false(
      (await readOwnedLabs()).some((l) => l.namespaces.includes(lab.network!.namespaces.hostA)),
      'ownership record removed',
    );
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test.serial('Ctrl-C removes the namespaces and the processes in them', async (t) => {
  t.timeout(15 * 60_000);
  const out = await mkdtemp(join(tmpdir(), 'vb-labbox-int-'));
  try {
    const { child, lab, qemu } = await startRunUntilQemu(out);
    child.kill('SIGINT');
    const r = await child;
    t.is(r.exitCode, 130, String(r.stderr));
    const present = await namespaces();
    for (const ns of lab.namespaces) t.false(present.includes(ns), `${ns} removed`);
    for (const pid of qemu) t.true(await ended(pid), `QEMU ${pid} ended`);
    t.false((await readOwnedLabs()).some((l) => l.token === lab.token));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test.serial('after the harness is killed (-9), cleanup removes exactly its leftovers', async (t) => {
  t.timeout(15 * 60_000);
  const out = await mkdtemp(join(tmpdir(), 'vb-labbox-kill-'));
  try {
    const { child, lab, qemu } = await startRunUntilQemu(out);
    child.kill('SIGKILL');
    await child;
    const leftover = await namespaces();
    for (const ns of lab.namespaces) t.true(leftover.includes(ns), `${ns} is left behind by the crash`);
    t.true(qemu.some(alive), 'the orphaned QEMU still runs in the namespace');

    const r = await vdpaBench(['lab', 'cleanup']);
    t.is(r.exitCode, 0, r.stderr);
    for (const ns of lab.namespaces) t.regex(r.stdout, new RegExp(`removed ${ns}$`, 'm'));
    const after = await namespaces();
    for (const ns of lab.namespaces) t.false(after.includes(ns), `${ns} removed`);
    for (const pid of qemu) t.true(await ended(pid), `QEMU ${pid} ended`);
    t.false(
      (await readOwnedLabs()).some((l) => l.token === lab.token),
      'ownership record removed',
    );
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
