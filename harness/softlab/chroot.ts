/**
 * Running commands inside a build root with /proc, /sys and /dev mounted, and making sure no
 * mount is left behind: a root directory is only ever deleted with nothing mounted under it
 * (deleting a tree with the host's /dev bound inside would delete the host's device nodes).
 * Also the root's own making: debootstrap, apt-get install inside it, files written into it.
 */
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { debootstrapArgv } from '../provision/qemu-root.ts';
import { execa } from 'execa';
import type { StageContext } from './stages.ts';

export const CHROOT_ENV: Record<string, string> = {
  DEBIAN_FRONTEND: 'noninteractive',
  DEBCONF_NONINTERACTIVE_SEEN: 'true',
  LC_ALL: 'C',
  LANG: 'C',
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
};

/** Mount points at or below dir, deepest first (from /proc/self/mounts; octal escapes decoded). */
export function mountsUnder(mountsText: string, dir: string): string[] {
  const base = resolve(dir);
  const points = mountsText
    .split('\n')
    .map((line) => line.split(' ')[1])
    .filter((p): p is string => Boolean(p))
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))))
    .filter((p) => p === base || p.startsWith(base + '/'));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function currentMountsUnder(dir: string): Promise<string[]> {
  return mountsUnder(await readFile('/proc/self/mounts', 'utf8'), dir);
}

export async function unmountAllUnder(dir: string): Promise<void> {
  for (const point of await currentMountsUnder(dir)) {
    await execa('umount', ['--recursive', '--lazy', point], { reject: false });
  }
  const left = await currentMountsUnder(dir);
  if (left.length > 0) throw new Error(`still mounted under ${dir}: ${left.join(', ')} (unmount them by hand)`);
}

/** Deletes a build root, refusing while anything is mounted below it. */
export async function removeRoot(dir: string): Promise<void> {
  await unmountAllUnder(dir);
  await execa('rm', ['-rf', '--one-file-system', '--', dir]);
}

export async function withChrootMounts<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const mounts: [string[], string][] = [
    [['-t', 'proc', 'proc'], 'proc'],
    [['-t', 'sysfs', 'sysfs'], 'sys'],
    [['--bind', '/dev'], 'dev'],
  ];
  try {
    for (const [args, where] of mounts) {
      const target = `${root}/${where}`;
      await execa('mkdir', ['-p', target]);
      await execa('mount', [...args, target]);
    }
    return await fn();
  } finally {
    await unmountAllUnder(`${root}/dev`).catch(() => undefined);
    await unmountAllUnder(`${root}/sys`).catch(() => undefined);
    await unmountAllUnder(`${root}/proc`);
    await unmountAllUnder(`${root}/dev`);
    await unmountAllUnder(`${root}/sys`);
  }
}

export function inChroot(ctx: StageContext, root: string, argv: readonly string[], input?: string): Promise<string> {
  return ctx.exec(['chroot', root, ...argv], { env: CHROOT_ENV, input });
}

export async function writeInto(root: string, path: string, text: string, mode = 0o644): Promise<void> {
  const target = join(root, path);
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, text);
  await chmod(target, mode);
}

export async function debootstrap(ctx: StageContext, suite: string, root: string, mirror: string): Promise<void> {
  await removeRoot(root);
  await mkdir(dirname(root), { recursive: true });
  await ctx.exec(debootstrapArgv(suite, root, mirror));
}

/** apt-get install inside a root, with daemons kept from starting (policy-rc.d); `release` pins a suite (-t). */
export async function aptInstall(ctx: StageContext, root: string, packages: readonly string[], release?: string): Promise<void> {
  await writeInto(root, 'usr/sbin/policy-rc.d', '#!/bin/sh\nexit 101\n', 0o755);
  await copyFile('/etc/resolv.conf', join(root, 'etc/resolv.conf')).catch(() => undefined);
  try {
    await withChrootMounts(root, async () => {
      // The machine's clock may be past a suite's Valid-Until (sid's Release expires in a week);
      // the signature is still checked.
      await inChroot(ctx, root, ['apt-get', '-o', 'Acquire::Check-Valid-Until=false', 'update']);
      await inChroot(ctx, root, ['apt-get', 'install', '-y', '--no-install-recommends', ...(release ? ['-t', release] : []), ...packages]);
      await inChroot(ctx, root, ['apt-get', 'clean']);
    });
  } finally {
    await rm(join(root, 'usr/sbin/policy-rc.d'), { force: true });
  }
}
