/**
 * Running QEMU from another root filesystem (a Debian suite's QEMU, a `qemu.chroot`) with every
 * path it is given at the same place inside (pure: argument arrays only).
 *
 * The mounts live in a mount namespace of QEMU's own (`unshare --mount`): they are made just
 * before the chroot and vanish with the process, so nothing is mounted below a root on the host
 * (a root can be deleted or refreshed while no run uses it) and a killed run leaves no mount
 * behind. The binds are non-recursive: the host's /run/netns/* nsfs mounts stay out of the root,
 * and `ip netns exec` (the lab in a box) has applied the network namespace before this starts.
 * `unshare`, `sh` and `chroot` exec one another, so the process the harness starts is QEMU itself.
 */
import { posix } from 'node:path';

/** Bound into every root: devices, sysfs, and where runs keep traces, sockets, caches and guests. */
export const STANDARD_BINDS = ['/dev', '/sys', '/root', '/tmp', '/run', '/var/tmp'] as const;

/** Inside a root the binary a Debian suite's qemu-system-x86 installs. */
export const ROOT_QEMU_BINARY = '/usr/bin/qemu-system-x86_64';

/**
 * The wrapper: `$1` is the root, then the directories to bind, then `--`, then QEMU's argv.
 * Constant text; every value arrives as a positional parameter.
 */
export const ROOT_WRAPPER_SCRIPT = `set -e
root=$1; shift
while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
  mkdir -p -- "$root$1"
  mount --bind -- "$1" "$root$1"
  mount --make-private -- "$root$1"
  shift
done
shift
mkdir -p -- "$root/proc"
mount -t proc proc "$root/proc"
exec chroot -- "$root" "$@"`;

/** The name `sh -c` gives the wrapper ($0): how it shows in `ps` until it execs QEMU. */
export const WRAPPER_NAME = 'vdpa-bench-qemu-root';

function normalizeDir(path: string, what: string): string {
  if (!path.startsWith('/')) throw new Error(`${what} must be an absolute path, got ${JSON.stringify(path)}`);
  if (path.includes('\0')) throw new Error(`${what} contains a NUL byte`);
  const normal = posix.normalize(path).replace(/\/+$/, '');
  return normal === '' ? '/' : normal;
}

const under = (path: string, dir: string) => path === dir || path.startsWith(dir + '/');

/**
 * Directories to bind, parents before children: the standard set, then each extra directory the
 * launch names (a workdir, the guest kernel's directory, a memory-backend directory) that the
 * standard set does not already show. A memory-backend directory is always bound itself: it is
 * often a mount of its own (hugetlbfs on /dev/hugepages), which a non-recursive bind of its
 * parent leaves out.
 */
export function bindPlan(root: string, extraDirs: readonly string[] = [], mountPoints: readonly string[] = []): string[] {
  const rootDir = normalizeDir(root, 'the QEMU root');
  if (rootDir === '/') throw new Error('the QEMU root cannot be / itself');
  const binds: string[] = [...STANDARD_BINDS];
  const add = (dir: string) => {
    if (dir === '/' || binds.includes(dir)) return;
    // a directory inside the root itself is already there
    if (under(dir, rootDir)) return;
    binds.push(dir);
  };
  for (const raw of extraDirs) {
    const dir = normalizeDir(raw, 'a directory QEMU uses');
    if (!STANDARD_BINDS.some((s) => under(dir, s))) add(dir);
  }
  for (const raw of mountPoints) add(normalizeDir(raw, 'a mount QEMU uses'));
  // parents first, so a child's bind lands on top of its parent's
  return binds.sort((a, b) => a.split('/').length - b.split('/').length);
}

/** argv that runs `binary` inside `root` with `binds` (see bindPlan); QEMU's own arguments follow. */
export function rootedInvocation(root: string, binary: string, binds: readonly string[]): string[] {
  const rootDir = normalizeDir(root, 'the QEMU root');
  if (binary === '') throw new Error('no QEMU binary named for the root');
  for (const b of binds) if (b === '--' || !b.startsWith('/')) throw new Error(`bind ${JSON.stringify(b)} is not an absolute path`);
  return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', ROOT_WRAPPER_SCRIPT, WRAPPER_NAME, rootDir, ...binds, '--', binary];
}

/** Where QEMU runs from: a root directory and the binary inside it, or the host's own binary. */
export interface QemuRootRef {
  dir: string;
  binary: string;
}

/** The directories of absolute file paths (kernel, initrd, disk image) a launch names. */
export function directoriesOf(paths: readonly (string | undefined)[]): string[] {
  return paths.filter((p): p is string => typeof p === 'string' && p.startsWith('/')).map((p) => posix.dirname(p));
}

/** A short name for an invocation in messages: `BINARY in ROOT` for a rooted one, else its words. */
export function invocationLabel(invocation: readonly string[]): string {
  const at = invocation.indexOf(WRAPPER_NAME);
  if (invocation[0] === 'unshare' && at !== -1) return `${invocation[invocation.length - 1]} in ${invocation[at + 1]}`;
  return invocation.join(' ');
}
