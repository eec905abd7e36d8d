/**
 * One real QEMU build through the harness's build path (opt-in: `npm run test:slow`, as root on
 * Debian): Debian bookworm's QEMU source package, a one-line patch, a minimal configure, through
 * the local transport. Then the same build again must come from the cache.
 */
import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { qemuChecks, runChecks } from '../../harness/provision/preflight.ts';
import { buildQemu, readPatches, type BuildSpec } from '../../harness/qemu/build.ts';

const enabled = process.env.VDPA_BENCH_SLOW === '1';
const run = enabled ? test.serial : test.skip;

const BUILD_PACKAGES = [
  'dpkg-dev',
  'libglib2.0-dev',
  'libpixman-1-dev',
  'libfdt-dev',
  'meson',
  'ninja-build',
  'python3-venv',
  'patch',
  'make',
  'gcc',
  'pkg-config',
];

async function apt(args: string[], dir: string) {
  const config = [
    '-o',
    `Dir::Etc::SourceList=${join(dir, 'sources.list')}`,
    '-o',
    'Dir::Etc::SourceParts=/dev/null',
    '-o',
    `Dir::State::Lists=${join(dir, 'lists')}`,
  ];
  return execa('apt-get', [...config, ...args], { cwd: dir, env: { DEBIAN_FRONTEND: 'noninteractive' } });
}

run('builds Debian QEMU 7.2 with a patch through the build path, then reuses the cached build', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'vdpa-bench-build-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  // deb-src entries in an apt configuration of the test's own: the system's sources stay untouched
  await mkdir(join(work, 'lists', 'partial'), { recursive: true });
  await writeFile(join(work, 'sources.list'), 'deb-src http://deb.debian.org/debian bookworm main\n');
  // only what is missing: dpkg's lock is shared with anything else installing on this machine
  const installed = await execa('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Status}\n', ...BUILD_PACKAGES], { reject: false });
  const present = new Set(
    String(installed.stdout)
      .split('\n')
      .filter((l) => l.endsWith(' installed'))
      .map((l) => l.split(' ')[0]),
  );
  const missing = BUILD_PACKAGES.filter((p) => !present.has(p));
  if (missing.length > 0)
    await execa('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env: { DEBIAN_FRONTEND: 'noninteractive' } });
  await apt(['update', '-qq'], work);
  await apt(['source', '--download-only', '-qq', 'qemu'], work);
  const dsc = (await execa('sh', ['-c', 'ls qemu_*.dsc'], { cwd: work })).stdout.trim();
  await execa('dpkg-source', ['--no-check', '-x', dsc, 'qemu-src'], { cwd: work });
  const version = (await execa('cat', [join(work, 'qemu-src', 'VERSION')])).stdout.trim();
  t.log(`source: ${dsc}, VERSION ${version}`);

  // a one-line series that changes what --version prints, so the test can see it was applied
  const patchVersion = `${version}.4242`;
  await writeFile(join(work, 'version.patch'), `--- a/VERSION\n+++ b/VERSION\n@@ -1 +1 @@\n-${version}\n+${patchVersion}\n`);
  const patches = await readPatches(join(work, 'profile.yaml'), ['version.patch']);

  const spec: BuildSpec = {
    sourceDir: join(work, 'qemu-src'),
    patches: ['version.patch'],
    targets: ['x86_64-softmmu'],
    traceBackend: 'log',
    configureArgs: ['--without-default-features', '--disable-docs', '--enable-kvm', '--enable-vhost-kernel', '--enable-vhost-net', '--enable-vhost-vdpa'],
  };
  const host = new LocalTransport('builder');
  const buildRoot = join(work, 'builds');
  const log = (line: string) => t.log(`${new Date().toISOString().slice(11, 19)} ${line}`);

  const first = await buildQemu({ host, variant: 'debian-7.2', spec, patches, buildRoot, log });
  t.false(first.cached);
  t.log(`first build: ${first.durationS} s, prefix ${first.prefix}`);
  const versionOut = (await execa(first.binary, ['--version'])).stdout;
  t.true(versionOut.includes(patchVersion), versionOut);
  const problems = await runChecks(
    host,
    qemuChecks(first.binary, [
      { purpose: 'the vdpa metric (8.1-8.2 fallback)', anyOf: ['vhost_vdpa_set_vring_ready'] },
      { purpose: 'runstate', anyOf: ['runstate_set'] },
    ]),
  );
  t.deepEqual(problems, []);

  const second = await buildQemu({ host, variant: 'debian-7.2', spec, patches, buildRoot, log });
  t.true(second.cached);
  t.is(second.key, first.key);
  t.is(second.binary, first.binary);
  t.log(`cached build: ${second.durationS} s`);
});
