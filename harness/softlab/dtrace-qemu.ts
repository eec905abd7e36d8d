/**
 * `softlab build --dtrace`: a QEMU with the dtrace backend for the lab VM, so the dtrace capture
 * (trace.backend stap) is tested for real. Debian's QEMU has no SDT notes, so it is built from
 * Debian trixie's own source package (`apt-get source qemu`, the lab VM's QEMU 10.0) in a trixie
 * build root (the lab VM's userland), configured with `--enable-trace-backends=log,dtrace` (both:
 * one migration is traced through both paths at once) and one target, installed under
 * /opt/qemu-dtrace in the lab VM with the tracers (bpftrace; systemtap for the record). Each stage
 * is cached by its inputs like the rest of the image.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MAKE } from '../qemu/build.ts';
import { aptInstall, debootstrap, inChroot, removeRoot, withChrootMounts, writeInto } from './chroot.ts';
import type { SoftlabPaths } from './paths.ts';
import type { Stage, StageContext } from './stages.ts';

/** Where the dtrace QEMU lives in the lab VM (and in its build root). */
export const DTRACE_QEMU_PREFIX = '/opt/qemu-dtrace';
export const DTRACE_QEMU_BINARY = `${DTRACE_QEMU_PREFIX}/bin/qemu-system-x86_64`;

export const DTRACE_BUILD_PACKAGES = [
  'gcc',
  'make',
  'libc6-dev',
  'pkgconf',
  'python3',
  'python3-venv',
  'meson',
  'ninja-build',
  'libglib2.0-dev',
  'libpixman-1-dev',
  'zlib1g-dev',
  'systemtap-sdt-dev',
  // x86_64-softmmu needs libfdt (else meson fetches dtc with git)
  'libfdt-dev',
  'dpkg-dev',
  'xz-utils',
  'flex',
  'bison',
] as const;

/** Tracers in the lab VM: bpftrace traces the SDT probes on its 6.12 kernel; perl reads the TAI offset. */
export const DTRACE_LAB_PACKAGES = ['bpftrace', 'perl', 'binutils'] as const;

export const DTRACE_CONFIGURE = [
  `--prefix=${DTRACE_QEMU_PREFIX}`,
  '--target-list=x86_64-softmmu',
  '--enable-trace-backends=log,dtrace',
  '--without-default-features',
  '--disable-docs',
  '--enable-tcg',
  '--enable-kvm',
  '--enable-vhost-kernel',
  '--enable-vhost-net',
  '--enable-vhost-vdpa',
  '--disable-werror',
  // Debian's source package has no firmware blobs: the lab VM's seabios, ipxe-qemu and qemu-system-data have them
  '--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu',
  '--disable-install-blobs',
] as const;

const SOURCE_AND_CONFIGURE = String.raw`
set -e
rm -rf /usr/src/qemu-dtrace
mkdir -p /usr/src/qemu-dtrace
cd /usr/src/qemu-dtrace
apt-get -o Acquire::Check-Valid-Until=false update
apt-get source --only-source qemu
src=$(find . -maxdepth 1 -mindepth 1 -type d -name 'qemu-*' | head -n1)
echo "source: $src"
mkdir -p "$src/build-dtrace"
cd "$src/build-dtrace"
../configure "$@"
`;

export function dtraceStages(paths: SoftlabPaths, mirror: string, key: (...parts: unknown[]) => string): Stage[] {
  const buildRoot = join(paths.root, 'dtrace-build-root');
  const output = join(paths.root, 'qemu-dtrace');
  return [
    {
      name: 'dtrace-build-root',
      description: `debootstrap trixie + ${DTRACE_BUILD_PACKAGES.length} build packages (QEMU's dtrace build)`,
      after: [],
      key: key('dtrace-build-root', mirror, DTRACE_BUILD_PACKAGES),
      outputs: [join(buildRoot, 'usr/include/x86_64-linux-gnu/sys/sdt.h')],
      run: async (ctx) => {
        await debootstrap(ctx, 'trixie', buildRoot, mirror);
        await writeInto(
          buildRoot,
          'etc/apt/sources.list.d/vdpa-bench-src.sources',
          `Types: deb-src\nURIs: ${mirror}\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
        );
        await aptInstall(ctx, buildRoot, DTRACE_BUILD_PACKAGES);
      },
    },
    {
      name: 'dtrace-qemu',
      description: `apt-get source qemu (trixie), configure ${DTRACE_CONFIGURE.slice(1, 3).join(' ')}, build and install`,
      after: ['dtrace-build-root'],
      key: key('dtrace-qemu', DTRACE_CONFIGURE, MAKE),
      outputs: [join(output, DTRACE_QEMU_BINARY.slice(1))],
      run: (ctx) => buildDtraceQemu(ctx, buildRoot, output),
    },
    {
      name: 'dtrace-lab',
      description: `${DTRACE_LAB_PACKAGES.join(', ')} and ${DTRACE_QEMU_PREFIX} into the lab VM's root`,
      after: ['dtrace-qemu', 'configure'],
      key: key('dtrace-lab', DTRACE_LAB_PACKAGES),
      run: async (ctx) => {
        await aptInstall(ctx, paths.trixieRoot, DTRACE_LAB_PACKAGES);
        const target = join(paths.trixieRoot, DTRACE_QEMU_PREFIX.slice(1));
        await removeRoot(target);
        await mkdir(dirname(target), { recursive: true });
        await ctx.exec(['cp', '-a', '--', join(output, DTRACE_QEMU_PREFIX.slice(1)), target]);
        ctx.log(`${DTRACE_QEMU_BINARY} in the lab VM; ${await readFile(join(output, 'version.txt'), 'utf8').catch(() => '?')}`);
      },
    },
  ];
}

async function buildDtraceQemu(ctx: StageContext, buildRoot: string, output: string): Promise<void> {
  const started = performance.now();
  await withChrootMounts(buildRoot, async () => {
    await inChroot(ctx, buildRoot, ['bash', '-c', SOURCE_AND_CONFIGURE, 'configure', ...DTRACE_CONFIGURE]);
    const configured = (performance.now() - started) / 1000;
    ctx.log(`configured in ${configured.toFixed(0)} s (load ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')})`);
    const dir = (await inChroot(ctx, buildRoot, ['bash', '-c', 'ls -d /usr/src/qemu-dtrace/qemu-*/build-dtrace'])).trim();
    await inChroot(ctx, buildRoot, ['bash', '-c', MAKE, 'make', dir]);
  });
  const total = (performance.now() - started) / 1000;
  await rm(output, { recursive: true, force: true });
  await mkdir(join(output, 'opt'), { recursive: true });
  await ctx.exec(['cp', '-a', '--', join(buildRoot, DTRACE_QEMU_PREFIX.slice(1)), join(output, DTRACE_QEMU_PREFIX.slice(1))]);
  const version = (await ctx.exec(['chroot', buildRoot, DTRACE_QEMU_BINARY, '--version'])).split('\n')[0];
  const notes = (await ctx.exec(['bash', '-c', 'readelf -n -- "$1" | grep -c stapsdt', 'count', join(output, DTRACE_QEMU_BINARY.slice(1))])).trim();
  const line = `${version}; ${notes} SDT notes; built in ${total.toFixed(0)} s (load ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')})`;
  await writeFile(join(output, 'version.txt'), line + '\n');
  ctx.log(line);
}
