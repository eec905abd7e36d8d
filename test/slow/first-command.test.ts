/**
 * The README's first command as a newcomer runs it (issue 23), for one short cell: on the fresh
 * machine of test/helpers/fresh-machine.sh (no QEMU of the host's on PATH, a /dev/kvm that cannot
 * run the guest), `npx vdpa-bench run profiles/lab-in-a-box.yaml` narrowed by its own options to
 * the profile's first variant and size. It must end with every migration ok under TCG and say why
 * TCG, in its output, its manifest and the report (whose summary `report` prints on stdout).
 * Runs with VDPA_BENCH_SLOW=1 as root (.ci/run).
 */
import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProfile } from '../../harness/profile/load.ts';
import { parseIterations } from '../../harness/results/store.ts';
import type { RunManifest } from '../../harness/results/types.ts';
import { lastLine, REPO } from '../helpers/cli.ts';
import { onFreshMachine } from '../helpers/fresh-machine.ts';

const PROFILE = 'profiles/lab-in-a-box.yaml';
const skip = process.env.VDPA_BENCH_SLOW !== '1' ? 'slow test: run with VDPA_BENCH_SLOW=1' : process.getuid?.() !== 0 ? 'not root (namespaces, chroot)' : null;

if (skip) test.skip(`the README's first command on a fresh machine (skipped: ${skip})`, () => {});
else
  test.serial('the README’s first command on a fresh machine, one cell: every migration ok under TCG, and why TCG', async (t) => {
    t.timeout(30 * 60_000);
    const { profile } = await loadProfile(join(REPO, PROFILE));
    const variant = profile.matrix.variants?.[0] ?? profile.variants[0].name;
    const vmSize = profile.matrix.vmSizes[0];
    const out = await mkdtemp(join(tmpdir(), 'vdpa-bench-first-command-'));
    t.teardown(() => rm(out, { recursive: true, force: true }));
    const started = performance.now();
    const npx = (args: string[]) => {
      const [file, ...rest] = onFreshMachine(['npx', 'vdpa-bench', ...args]);
      return execa(file, rest, { cwd: REPO, reject: false, all: true, timeout: 25 * 60_000 });
    };
    // one cell: two measured migrations, each block after a warm-up; a workdir (and so a lab lock) of its own
    const run = await npx([
      'run',
      PROFILE,
      '--variant',
      variant,
      '--vm-size',
      vmSize,
      '--iterations',
      '2',
      '--warmup',
      '1',
      '--out',
      join(out, 'results'),
      '--reports',
      join(out, 'reports'),
      '--workdir',
      join(out, 'work'),
    ]);
    t.log(`${variant} ${vmSize}: exit ${run.exitCode} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    if (run.exitCode !== 0) t.log(run.all?.split('\n').slice(-15).join('\n'));
    t.is(run.exitCode, 0);
    const dir = lastLine(run.stdout);
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as RunManifest;
    t.log(`accel ${manifest.accel.used}: ${manifest.accel.reason}`);
    t.is(manifest.accel.used, 'tcg');
    t.regex(manifest.accel.reason, /^auto: KVM is not (usable|known to work) on host[AB] /);
    t.regex(run.stderr, /accelerator: tcg \(auto: KVM is not/);
    const { records } = parseIterations(await readFile(join(dir, 'iterations.ndjson'), 'utf8'));
    // the interleaved design gives each measured block its own warm-up: the schedule says how many
    t.is(records.length, manifest.schedule?.migrations ?? -1);
    t.true(records.length >= 3);
    t.deepEqual(
      records.map((r) => `${r.seq} ${r.status} ${r.accel}`),
      records.map((r) => `${r.seq} ok tcg`),
    );
    // the report of the run says it too, on stdout
    const report = await npx(['report', dir, '--out', join(out, 'again')]);
    t.is(report.exitCode, 0, report.all);
    t.regex(report.stdout, /Platform: accelerator TCG \(emulated CPU[^)]*\), because auto: KVM is not/);
    t.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  });
