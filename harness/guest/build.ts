/**
 * Builds the builtin-linux guest from Debian packages and caches it outside the repository:
 * the cloud kernel image (its modules indexed with our own depmod run, since the package ships
 * no modules.dep) and a gzip'd initramfs with busybox-static, the virtio-net modules in
 * modules.dep order and our /init. The cache key covers both package versions and the init
 * script, so a new kernel or a changed /init builds a new guest.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile, copyFile, chmod } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { cpioArchive, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, type CpioEntry } from './cpio.ts';
import { guestInitScript } from './init-script.ts';
import { loadOrder, parseModulesDep } from './modules.ts';
import { shellJoin } from '../hosts/transport.ts';

/** Modules the guest needs for its NIC; the rest come from modules.dep. */
export const GUEST_MODULES = ['virtio_net', 'virtio_pci'];
const BUSYBOX_PACKAGE = 'busybox-static';
const BUILDER_VERSION = 1;

export interface BuiltGuest {
  dir: string;
  kernel: string;
  initrd: string;
  kernelPackage: string;
  kernelPackageVersion: string;
  kernelRelease: string;
  busyboxVersion: string;
  modules: string[];
  initrdBytes: number;
  /** false when the cache already held this guest. */
  built: boolean;
  buildMs: number;
}

export function cacheRoot(): string {
  return process.env.VDPA_BENCH_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'vdpa-bench');
}

async function run(file: string, args: string[], cwd?: string): Promise<string> {
  const result = await execa(file, args, { cwd, reject: false, env: { LC_ALL: 'C' } });
  if (result.exitCode !== 0) {
    const why = result.failed && result.exitCode === undefined ? result.message : String(result.stderr).trim().split('\n').slice(-4).join('\n  ');
    throw new Error(`guest build: \`${file} ${args.join(' ')}\` failed: ${why}`);
  }
  return String(result.stdout);
}

/** linux-image-cloud-amd64 (a metapackage) → linux-image-6.1.0-56-cloud-amd64. */
export function imagePackageFromDepends(metapackage: string, dependsOutput: string): string {
  if (/^linux-image-\d/.test(metapackage)) return metapackage;
  const match = /Depends:\s*(linux-image-\d[^\s<>]*)/.exec(dependsOutput);
  if (!match) throw new Error(`guest build: ${metapackage} depends on no versioned linux-image package (apt-cache depends says:\n${dependsOutput.trim()})`);
  return match[1];
}

async function candidateVersion(pkg: string): Promise<string> {
  const policy = await run('apt-cache', ['policy', pkg]);
  const match = /Candidate:\s*(\S+)/.exec(policy);
  if (!match || match[1] === '(none)')
    throw new Error(`guest build: apt knows no installable version of ${pkg} (run apt-get update, or check the package name)`);
  return match[1];
}

/** A module's name from its path in modules.dep (kernel/net/foo.ko.xz -> foo). */
function moduleName(path: string): string {
  return path
    .split('/')
    .pop()!
    .replace(/\.ko.*$/, '');
}

/** The kernel and busybox packages downloaded and unpacked in `work`; the guest's modules in load order. */
async function extractPackages({
  work,
  imagePackage,
  kernelVersion,
  busyboxVersion,
}: {
  work: string;
  imagePackage: string;
  kernelVersion: string;
  busyboxVersion: string;
}): Promise<{ kernelRoot: string; release: string; order: string[] }> {
  await run('apt-get', ['download', '-q', `${imagePackage}=${kernelVersion}`, `${BUSYBOX_PACKAGE}=${busyboxVersion}`], work);
  const debs = (await readdir(work)).filter((f) => f.endsWith('.deb'));
  const kernelDeb = debs.find((f) => f.startsWith(`${imagePackage}_`));
  const busyboxDeb = debs.find((f) => f.startsWith(`${BUSYBOX_PACKAGE}_`));
  if (!kernelDeb || !busyboxDeb) throw new Error(`guest build: apt-get download left ${debs.join(', ') || 'nothing'}`);
  const kernelRoot = join(work, 'kernel');
  const busyboxRoot = join(work, 'busybox');
  await run('dpkg-deb', ['-x', join(work, kernelDeb), kernelRoot]);
  await run('dpkg-deb', ['-x', join(work, busyboxDeb), busyboxRoot]);
  const releases = await readdir(join(kernelRoot, 'lib', 'modules'));
  if (releases.length !== 1) throw new Error(`guest build: expected one kernel release in ${kernelDeb}, found ${releases.join(', ')}`);
  const release = releases[0];
  await run('depmod', ['-b', kernelRoot, release]);
  const modulesDir = join(kernelRoot, 'lib', 'modules', release);
  const order = loadOrder(parseModulesDep(await readFile(join(modulesDir, 'modules.dep'), 'utf8')), GUEST_MODULES);
  return { kernelRoot, release, order };
}

/** The initrd's files: busybox and its applets, the modules in load order (etc/modules.order), /init. */
async function initrdEntries({
  busyboxRoot,
  modulesDir,
  order,
  init,
}: {
  busyboxRoot: string;
  modulesDir: string;
  order: string[];
  init: string;
}): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = [];
  for (const d of ['bin', 'dev', 'proc', 'sys', 'etc', 'work', 'lib', 'lib/modules']) entries.push({ path: d, mode: S_IFDIR | 0o755 });
  entries.push({ path: 'dev/console', mode: S_IFCHR | 0o600, rdev: [5, 1] });
  entries.push({ path: 'bin/busybox', mode: S_IFREG | 0o755, data: await readFile(join(busyboxRoot, 'bin', 'busybox')) });
  const applets = (await run(join(busyboxRoot, 'bin', 'busybox'), ['--list'])).split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
  for (const applet of applets) entries.push({ path: `bin/${applet}`, mode: S_IFLNK | 0o777, linkTarget: 'busybox' });
  const moduleFiles: string[] = [];
  for (const path of order) {
    const file = path.split('/').pop()!;
    moduleFiles.push(file);
    entries.push({ path: `lib/modules/${file}`, mode: S_IFREG | 0o644, data: await readFile(join(modulesDir, path)) });
  }
  entries.push({ path: 'etc/modules.order', mode: S_IFREG | 0o644, data: Buffer.from(moduleFiles.join('\n') + '\n') });
  entries.push({ path: 'init', mode: S_IFREG | 0o755, data: Buffer.from(init) });
  return entries;
}

export async function buildGuest(kernelPackage: string, log: (line: string) => void = () => {}): Promise<BuiltGuest> {
  const started = performance.now();
  const imagePackage = imagePackageFromDepends(kernelPackage, /^linux-image-\d/.test(kernelPackage) ? '' : await run('apt-cache', ['depends', kernelPackage]));
  const [kernelVersion, busyboxVersion, init] = await Promise.all([candidateVersion(imagePackage), candidateVersion(BUSYBOX_PACKAGE), guestInitScript()]);
  const key = createHash('sha256')
    .update(JSON.stringify({ BUILDER_VERSION, imagePackage, kernelVersion, busyboxVersion, init, GUEST_MODULES }))
    .digest('hex')
    .slice(0, 16);
  const root = join(cacheRoot(), 'guest');
  const dir = join(root, `${imagePackage}-${key}`);
  const manifestPath = join(dir, 'guest.json');
  const cached = await readFile(manifestPath, 'utf8').then(
    (t) => JSON.parse(t) as BuiltGuest,
    () => undefined,
  );
  if (cached)
    return { ...cached, dir, kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.gz'), built: false, buildMs: Math.round(performance.now() - started) };

  log(`building the guest: ${imagePackage} ${kernelVersion} + ${BUSYBOX_PACKAGE} ${busyboxVersion} (cache ${dir})`);
  await mkdir(root, { recursive: true });
  const work = await mkdtemp(join(root, '.build-'));
  try {
    // apt's download sandbox user must be able to write here
    await chmod(work, 0o777);
    const { kernelRoot, release, order } = await extractPackages({ work, imagePackage, kernelVersion, busyboxVersion });
    const entries = await initrdEntries({ busyboxRoot: join(work, 'busybox'), modulesDir: join(kernelRoot, 'lib', 'modules', release), order, init });
    const initrd = gzipSync(cpioArchive(entries), { level: 6 });

    const staging = join(work, 'out');
    await mkdir(staging);
    await copyFile(join(kernelRoot, 'boot', `vmlinuz-${release}`), join(staging, 'vmlinuz'));
    await writeFile(join(staging, 'initrd.gz'), initrd);
    const guest: BuiltGuest = {
      dir,
      kernel: join(dir, 'vmlinuz'),
      initrd: join(dir, 'initrd.gz'),
      kernelPackage: imagePackage,
      kernelPackageVersion: kernelVersion,
      kernelRelease: release,
      busyboxVersion,
      modules: order.map(moduleName),
      initrdBytes: initrd.length,
      built: true,
      buildMs: 0,
    };
    await writeFile(join(staging, 'guest.json'), JSON.stringify(guest, null, 2) + '\n');
    try {
      await rename(staging, dir);
    } catch (error) {
      // another run built the same guest meanwhile: theirs is as good as ours
      if (!['ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
    }
    guest.buildMs = Math.round(performance.now() - started);
    log(
      `guest built in ${(guest.buildMs / 1000).toFixed(1)} s: kernel ${release}, initrd ${(initrd.length / 1e6).toFixed(1)} MB, modules ${guest.modules.join(' ')}`,
    );
    return guest;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * What buildGuest does, as `plan` shows it: the same commands in the same order (on this
 * machine, in a temporary directory under the cache), skipped when the cache has the guest.
 */
export function describeGuestBuild(kernelPackage: string): { dir: string; lines: string[] } {
  const versioned = /^linux-image-\d/.test(kernelPackage);
  const image = versioned ? kernelPackage : 'IMAGE';
  const dir = join(cacheRoot(), 'guest', `${image}-GUEST_KEY`);
  const lines = [
    ...(versioned ? [] : [`# IMAGE: the versioned linux-image package ${kernelPackage} depends on`, shellJoin(['apt-cache', 'depends', kernelPackage])]),
    `# candidate versions (the cache key GUEST_KEY covers them, /init and the module list ${GUEST_MODULES.join(' ')})`,
    shellJoin(['apt-cache', 'policy', image]),
    shellJoin(['apt-cache', 'policy', BUSYBOX_PACKAGE]),
    `# only when ${dir}/guest.json is missing:`,
    shellJoin(['apt-get', 'download', '-q', `${image}=VERSION`, `${BUSYBOX_PACKAGE}=VERSION`]),
    shellJoin(['dpkg-deb', '-x', `${image}_VERSION_amd64.deb`, 'kernel']),
    shellJoin(['dpkg-deb', '-x', `${BUSYBOX_PACKAGE}_VERSION_amd64.deb`, 'busybox']),
    shellJoin(['depmod', '-b', 'kernel', 'RELEASE']),
    shellJoin(['busybox/bin/busybox', '--list']),
    `# initrd.gz: busybox, its applets, the modules in modules.dep order and /init (harness/guest/init.sh), written as a gzip'd cpio by the harness itself`,
    `# kernel: ${dir}/vmlinuz, initrd: ${dir}/initrd.gz`,
  ];
  return { dir, lines };
}
