/**
 * Running commands inside a build root with /proc, /sys and /dev mounted, and making sure no
 * mount is left behind: a root directory is only ever deleted with nothing mounted under it
 * (deleting a tree with the host's /dev bound inside would delete the host's device nodes).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
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
