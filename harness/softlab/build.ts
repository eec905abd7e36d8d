/**
 * `softlab build`: the lab VM image from Debian packages only (trixie system with the 6.12 cloud
 * kernel and QEMU 10.0; a sid root filesystem with QEMU 11.x for chroot use; vdpa_sim, vdpa_sim_net
 * and vringh built out of tree from linux-source-6.12). Cached in a directory outside the
 * repository; a second build with nothing changed does nothing.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { aptInstall, debootstrap, inChroot, removeRoot, withChrootMounts, writeInto } from './chroot.ts';
import { FSTAB, HOSTS, kbuildFile, MEMLOCK_PAM, MEMLOCK_SYSTEMD, MODPROBE_CONF, SETUP_SCRIPT, SETUP_UNIT, SSHD_CONF } from './guest-files.ts';
import { LAB, softlabPaths, type SoftlabPaths } from './paths.ts';
import { packageVersionArgv, QEMU_ROOT_PACKAGES } from '../provision/qemu-root.ts';
import { runStages, type Stage, type StageContext, type StageTiming } from './stages.ts';
import { dtraceStages } from './dtrace-qemu.ts';

export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
/** Bump when a stage's commands change in a way its key does not capture. */
const RECIPE_VERSION = 1;

export const TRIXIE_PACKAGES = [
  'linux-image-cloud-amd64',
  'linux-headers-cloud-amd64',
  'linux-source-6.12',
  'gcc-14',
  'make',
  'libc6-dev',
  'xz-utils',
  'qemu-system-x86',
  'seabios',
  'ipxe-qemu',
  'iproute2',
  'openssh-server',
  'systemd-sysv',
  'udev',
  'kmod',
  'procps',
] as const;

/** The sid root is a Debian suite root like any `qemu: { debian: sid }` variant's (provision/qemu-root.ts). */
export const SID_PACKAGES = QEMU_ROOT_PACKAGES;

/** QEMU from trixie-backports on a trixie root: only QEMU (and what it pulls from backports) differs from the lab VM's own 10.0. */
export const BACKPORTS_PACKAGES = QEMU_ROOT_PACKAGES;

/** Sources of the simulator, as paths inside linux-source-6.12.tar.xz. */
export const VDPA_SIM_SOURCES = [
  'drivers/vhost/vringh.c',
  'drivers/vdpa/vdpa_sim/vdpa_sim.c',
  'drivers/vdpa/vdpa_sim/vdpa_sim.h',
  'drivers/vdpa/vdpa_sim/vdpa_sim_net.c',
] as const;
export const VDPA_SIM_MODULES = ['vringh', 'vdpa_sim', 'vdpa_sim_net'] as const;

export interface BuildOptions {
  paths?: SoftlabPaths;
  mirror?: string;
  imageSize?: string;
  /** Also the dtrace-backend QEMU and the tracers (dtrace-qemu.ts). */
  dtrace?: boolean;
  force?: boolean;
  print: (line: string) => void;
}

export interface LabInfo {
  builtAt: string;
  kernelVersion: string;
  qemu: { trixie: string; sid: string; backports?: string };
  modules: string[];
  imageBytes: number;
}

function key(...parts: unknown[]): string {
  return createHash('sha256')
    .update(JSON.stringify([RECIPE_VERSION, ...parts]))
    .digest('hex');
}

async function packageVersion(root: string, pkg: string): Promise<string> {
  const r = await execa(packageVersionArgv(root, pkg)[0], packageVersionArgv(root, pkg).slice(1));
  return String(r.stdout).trim();
}

/** The one kernel version installed in the trixie root (a 6.12 cloud kernel). */
export async function installedKernel(root: string): Promise<string> {
  const versions = (await readdir(join(root, 'lib/modules')).catch(() => [] as string[])).filter((v) => v.endsWith('-cloud-amd64'));
  if (versions.length !== 1) throw new Error(`expected one cloud kernel in ${root}/lib/modules, found: ${versions.join(', ') || 'none'}`);
  if (!versions[0].startsWith('6.12.')) throw new Error(`expected a 6.12 kernel, found ${versions[0]}`);
  return versions[0];
}

export function buildStages(paths: SoftlabPaths, mirror: string, imageSize: string, dtrace = false): Stage[] {
  const stages = [...rootfsStages(paths, mirror), ...packageStages(paths), ...labStages(paths, imageSize)];
  if (!dtrace) return stages;
  // the image then holds the dtrace QEMU and the tracers too (a cache of its own: VDPA_BENCH_CACHE)
  const image = stages.find((s) => s.name === 'image')!;
  Object.assign(image, { after: [...image.after, 'dtrace-lab'], key: key(image.key, 'dtrace') });
  return [...stages, ...dtraceStages(paths, mirror, key)];
}

/** The two Debian roots: trixie for the lab VM, sid for the chroot with the newer QEMU. */
function rootfsStages(paths: SoftlabPaths, mirror: string): Stage[] {
  const trixie = paths.trixieRoot;
  const sid = paths.sidRoot;
  return [
    {
      name: 'trixie-rootfs',
      description: 'debootstrap --variant=minbase trixie',
      after: [],
      key: key('debootstrap', 'trixie', mirror),
      outputs: [join(trixie, 'etc/debian_version')],
      run: (ctx) => debootstrap(ctx, 'trixie', trixie, mirror),
    },
    {
      name: 'sid-rootfs',
      description: 'debootstrap --variant=minbase sid',
      after: [],
      key: key('debootstrap', 'sid', mirror),
      outputs: [join(sid, 'etc/debian_version')],
      run: (ctx) => debootstrap(ctx, 'sid', sid, mirror),
    },
    {
      name: 'backports-rootfs',
      description: 'debootstrap --variant=minbase trixie (for trixie-backports QEMU), with trixie-backports in its sources',
      after: [],
      key: key('debootstrap', 'trixie', 'backports', mirror),
      outputs: [join(paths.backportsRoot, 'etc/debian_version')],
      run: async (ctx) => {
        await debootstrap(ctx, 'trixie', paths.backportsRoot, mirror);
        await writeInto(paths.backportsRoot, 'etc/apt/sources.list.d/trixie-backports.list', `deb ${mirror} trixie-backports main\n`);
      },
    },
  ];
}

/** The packages each root needs; each stage logs the versions it got (they identify the lab). */
function packageStages(paths: SoftlabPaths): Stage[] {
  const trixie = paths.trixieRoot;
  const sid = paths.sidRoot;
  return [
    {
      name: 'trixie-packages',
      description: `apt-get install ${TRIXIE_PACKAGES.length} packages (6.12 cloud kernel, QEMU 10.0, iproute2, sshd, build tools)`,
      after: ['trixie-rootfs'],
      key: key(TRIXIE_PACKAGES),
      run: async (ctx) => {
        await aptInstall(ctx, trixie, TRIXIE_PACKAGES);
        ctx.log(`kernel ${await installedKernel(trixie)}, qemu-system-x86 ${await packageVersion(trixie, 'qemu-system-x86')}`);
      },
    },
    {
      name: 'sid-packages',
      description: 'apt-get install qemu-system-x86 (11.x) in the sid root',
      after: ['sid-rootfs'],
      key: key(SID_PACKAGES),
      run: async (ctx) => {
        await aptInstall(ctx, sid, SID_PACKAGES);
        ctx.log(`qemu-system-x86 ${await packageVersion(sid, 'qemu-system-x86')}`);
      },
    },
    {
      name: 'backports-packages',
      description: 'apt-get install -t trixie-backports qemu-system-x86 (11.x) in the trixie-backports root',
      after: ['backports-rootfs'],
      key: key(BACKPORTS_PACKAGES, 'trixie-backports'),
      run: async (ctx) => {
        await aptInstall(ctx, paths.backportsRoot, BACKPORTS_PACKAGES, 'trixie-backports');
        ctx.log(`qemu-system-x86 ${await packageVersion(paths.backportsRoot, 'qemu-system-x86')} (trixie-backports)`);
      },
    },
  ];
}

/** What makes the trixie root a vDPA lab: the simulator modules, the configuration, then the bootable image. */
function labStages(paths: SoftlabPaths, imageSize: string): Stage[] {
  const trixie = paths.trixieRoot;
  return [
    {
      name: 'vdpa-sim-modules',
      description: 'build vringh, vdpa_sim, vdpa_sim_net out of tree from linux-source-6.12',
      after: ['trixie-packages'],
      key: key(VDPA_SIM_SOURCES, VDPA_SIM_MODULES),
      run: (ctx) => buildModules(ctx, trixie),
    },
    {
      name: 'configure',
      description: 'sshd with generated keys, boot-time set-up unit, modprobe options, memlock limits',
      after: ['vdpa-sim-modules'],
      key: key(SETUP_SCRIPT, SETUP_UNIT, MODPROBE_CONF, MEMLOCK_SYSTEMD, MEMLOCK_PAM, SSHD_CONF, FSTAB, HOSTS),
      run: (ctx) => configure(ctx, paths),
    },
    {
      name: 'image',
      description: `mke2fs -t ext4 -d (${imageSize}, sid root at ${LAB.sidChroot}, trixie-backports root at ${LAB.backportsChroot}), kernel and initrd`,
      after: ['configure', 'sid-packages', 'backports-packages'],
      key: key(imageSize, LAB.sidChroot, LAB.backportsChroot),
      outputs: [paths.image, paths.kernel, paths.initrd],
      run: (ctx) => makeImage(ctx, paths, imageSize),
    },
  ];
}

async function buildModules(ctx: StageContext, root: string): Promise<void> {
  const version = await installedKernel(root);
  const tarballs = (await readdir(join(root, 'usr/src'))).filter((f) => /^linux-source-6\.12\.tar\.(xz|bz2)$/.test(f));
  if (tarballs.length !== 1) throw new Error(`linux-source-6.12 tarball not found in ${root}/usr/src`);
  const srcDir = '/usr/src/softlab-linux';
  const buildDir = '/usr/src/softlab-vdpa-sim';
  await removeRoot(join(root, srcDir));
  await removeRoot(join(root, buildDir));
  await mkdir(join(root, srcDir), { recursive: true });
  await mkdir(join(root, buildDir), { recursive: true });
  const top = 'linux-source-6.12';
  await inChroot(ctx, root, ['tar', '-C', srcDir, '-xf', `/usr/src/${tarballs[0]}`, ...VDPA_SIM_SOURCES.map((p) => `${top}/${p}`)]);
  for (const p of VDPA_SIM_SOURCES) await copyFile(join(root, srcDir, top, p), join(root, buildDir, p.split('/').pop()!));
  await writeFile(join(root, buildDir, 'Kbuild'), kbuildFile(VDPA_SIM_MODULES));
  await withChrootMounts(root, () => inChroot(ctx, root, ['make', '-C', `/lib/modules/${version}/build`, `M=${buildDir}`, 'modules']));
  const target = join(root, 'lib/modules', version, LAB.moduleDir);
  await mkdir(target, { recursive: true });
  for (const m of VDPA_SIM_MODULES) await copyFile(join(root, buildDir, `${m}.ko`), join(target, `${m}.ko`));
  await inChroot(ctx, root, ['depmod', version]);
  await removeRoot(join(root, srcDir));
  ctx.log(`modules for ${version}: ${VDPA_SIM_MODULES.join(', ')} in /lib/modules/${version}/${LAB.moduleDir}`);
}

async function configure(ctx: StageContext, paths: SoftlabPaths): Promise<void> {
  const root = paths.trixieRoot;
  await writeInto(root, 'usr/local/sbin/softlab-setup', SETUP_SCRIPT, 0o755);
  await writeInto(root, 'etc/systemd/system/softlab-setup.service', SETUP_UNIT);
  await writeInto(root, 'etc/modprobe.d/softlab.conf', MODPROBE_CONF);
  await writeInto(root, 'etc/systemd/system.conf.d/softlab-memlock.conf', MEMLOCK_SYSTEMD);
  await writeInto(root, 'etc/security/limits.d/softlab-memlock.conf', MEMLOCK_PAM);
  await writeInto(root, 'etc/ssh/sshd_config.d/softlab.conf', SSHD_CONF);
  await writeInto(root, 'etc/fstab', FSTAB);
  await writeInto(root, 'etc/hosts', HOSTS);
  await writeInto(root, 'etc/hostname', 'softlab\n');
  await inChroot(ctx, root, ['systemctl', 'enable', 'softlab-setup.service', 'ssh.service']);

  // Keys are made here, not taken from the packages: the client key never leaves the cache and
  // the host key is pinned in the cache's known_hosts.
  await mkdir(dirname(paths.sshKey), { recursive: true });
  for (const f of await readdir(join(root, 'etc/ssh'))) if (f.startsWith('ssh_host_')) await rm(join(root, 'etc/ssh', f));
  await rm(paths.sshKey, { force: true });
  await rm(`${paths.sshKey}.pub`, { force: true });
  await ctx.exec(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'vdpa-bench-softlab', '-f', paths.sshKey]);
  await ctx.exec(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'softlab-host', '-f', join(root, 'etc/ssh/ssh_host_ed25519_key')]);
  await copyFile(join(root, 'etc/ssh/ssh_host_ed25519_key.pub'), paths.hostKeyPub);
  await writeInto(root, 'root/.ssh/authorized_keys', await readFile(`${paths.sshKey}.pub`, 'utf8'), 0o600);
  await chmod(join(root, 'root/.ssh'), 0o700);
}

async function makeImage(ctx: StageContext, paths: SoftlabPaths, imageSize: string): Promise<void> {
  const root = paths.trixieRoot;
  const sidTarget = join(root, LAB.sidChroot.slice(1));
  await removeRoot(sidTarget);
  await mkdir(dirname(sidTarget), { recursive: true });
  await ctx.exec(['cp', '-a', '--', paths.sidRoot, sidTarget]);
  const backportsTarget = join(root, LAB.backportsChroot.slice(1));
  await removeRoot(backportsTarget);
  await ctx.exec(['cp', '-a', '--', paths.backportsRoot, backportsTarget]);
  const version = await installedKernel(root);
  const tmp = `${paths.image}.tmp`;
  await rm(tmp, { force: true });
  await ctx.exec(['mke2fs', '-q', '-F', '-t', 'ext4', '-L', 'softlab', '-d', root, tmp, imageSize]);
  await rename(tmp, paths.image);
  await copyFile(join(root, 'boot', `vmlinuz-${version}`), paths.kernel);
  await copyFile(join(root, 'boot', `initrd.img-${version}`), paths.initrd);
  const info: LabInfo = {
    builtAt: new Date().toISOString(),
    kernelVersion: version,
    qemu: {
      trixie: await packageVersion(root, 'qemu-system-x86'),
      sid: await packageVersion(paths.sidRoot, 'qemu-system-x86'),
      backports: await packageVersion(paths.backportsRoot, 'qemu-system-x86'),
    },
    modules: [...VDPA_SIM_MODULES],
    imageBytes: (await stat(paths.image)).size,
  };
  await writeFile(join(paths.root, 'lab-info.json'), JSON.stringify(info, null, 2) + '\n');
  ctx.log(
    `kernel ${info.kernelVersion}; QEMU ${info.qemu.trixie} (trixie, /usr/bin), ${info.qemu.sid} (sid, ${LAB.sidChroot}) and ${info.qemu.backports} (trixie-backports, ${LAB.backportsChroot})`,
  );
}

export async function readLabInfo(paths: SoftlabPaths = softlabPaths()): Promise<LabInfo | null> {
  return readFile(join(paths.root, 'lab-info.json'), 'utf8').then(
    (t) => JSON.parse(t) as LabInfo,
    () => null,
  );
}

/** Host programs the build needs, with the Debian package that has each. */
export const BUILD_TOOLS: Record<string, string> = {
  debootstrap: 'debootstrap',
  mke2fs: 'e2fsprogs',
  'ssh-keygen': 'openssh-client',
  chroot: 'coreutils',
  mount: 'mount',
};

export async function missingBuildTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const [tool, pkg] of Object.entries(BUILD_TOOLS)) {
    const found = await execa('sh', ['-c', 'command -v "$1" || test -x "/usr/sbin/$1" || test -x "/sbin/$1"', 'sh', tool], { reject: false });
    if (found.exitCode !== 0) missing.push(`${tool} (package ${pkg})`);
  }
  return missing;
}

export async function buildSoftlab(o: BuildOptions): Promise<{ timings: StageTiming[]; info: LabInfo | null; paths: SoftlabPaths }> {
  const paths = o.paths ?? softlabPaths();
  if (process.getuid?.() !== 0) throw new Error('softlab build needs root (debootstrap, chroot and mounts); run it as root or with sudo');
  const missing = await missingBuildTools();
  if (missing.length > 0) throw new Error(`softlab build needs: ${missing.join(', ')}`);
  await mkdir(paths.root, { recursive: true });
  const started = performance.now();
  const timings = await runStages(buildStages(paths, o.mirror ?? DEFAULT_MIRROR, o.imageSize ?? '6G', o.dtrace), {
    stampsDir: paths.stamps,
    logsDir: paths.logs,
    force: o.force,
    print: o.print,
  });
  const total = (performance.now() - started) / 1000;
  await writeFile(paths.timings, JSON.stringify({ at: new Date().toISOString(), totalSeconds: total, stages: timings }, null, 2) + '\n');
  o.print(`softlab build: ${total.toFixed(1)} s in all (${timings.filter((t) => t.cached).length} of ${timings.length} stages cached); cache ${paths.root}`);
  return { timings, info: await readLabInfo(paths), paths };
}
