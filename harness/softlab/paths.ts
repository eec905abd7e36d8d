/**
 * Where the soft lab lives: a cache directory outside the repository (VDPA_BENCH_CACHE, else
 * ~/.cache/vdpa-bench), so a fresh clone and CI reuse an image built once on the machine.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export interface SoftlabPaths {
  root: string;
  /** Debian trixie root filesystem: the lab VM's own system. */
  trixieRoot: string;
  /** Debian sid root filesystem, copied to /srv/sid in the image; QEMU 11.x runs from it with chroot. */
  sidRoot: string;
  /** Debian trixie root filesystem with trixie-backports' QEMU, copied to /srv/trixie-backports in the image. */
  backportsRoot: string;
  stamps: string;
  image: string;
  kernel: string;
  initrd: string;
  /** Client key the harness logs in with (root@lab VM). */
  sshKey: string;
  /** The lab VM's host key, as a known_hosts line template (no host part). */
  hostKeyPub: string;
  knownHosts: string;
  run: string;
  pidFile: string;
  consoleLog: string;
  stateFile: string;
  timings: string;
  logs: string;
}

export function softlabCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.VDPA_BENCH_CACHE ? resolve(env.VDPA_BENCH_CACHE) : join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'vdpa-bench');
  return join(base, 'softlab');
}

export function softlabPaths(root = softlabCacheDir()): SoftlabPaths {
  return {
    root,
    trixieRoot: join(root, 'trixie-rootfs'),
    sidRoot: join(root, 'sid-rootfs'),
    backportsRoot: join(root, 'trixie-backports-rootfs'),
    stamps: join(root, 'stamps'),
    image: join(root, 'labvm.ext4'),
    kernel: join(root, 'vmlinuz'),
    initrd: join(root, 'initrd.img'),
    sshKey: join(root, 'ssh', 'id_ed25519'),
    hostKeyPub: join(root, 'ssh', 'host_ed25519_key.pub'),
    knownHosts: join(root, 'ssh', 'known_hosts'),
    run: join(root, 'run'),
    pidFile: join(root, 'run', 'qemu.pid'),
    consoleLog: join(root, 'run', 'console.log'),
    stateFile: join(root, 'run', 'state.json'),
    timings: join(root, 'build-timings.json'),
    logs: join(root, 'logs'),
  };
}

/** Inside the lab VM. */
export const LAB = {
  sidChroot: '/srv/sid',
  /** trixie with trixie-backports' QEMU: the suite root of a `qemu: { debian: trixie-backports }` variant (qemuRoots /srv). */
  backportsChroot: '/srv/trixie-backports',
  /** Shared between the lab VM and the sid chroot (bind mount), so one path works in both. */
  workdir: '/var/tmp/vdpa-bench',
  moduleDir: 'updates/softlab',
} as const;

/** Loopback port forwarded to the lab VM's sshd unless `softlab up --port` says otherwise. */
export const DEFAULT_SSH_PORT = 10022;
/** hostA's sshd port in the two-host lab (`softlab up --two-hosts`); hostB's is the next. */
export const DEFAULT_PAIR_PORT = 10031;

export const THP_MODES = ['always', 'madvise', 'never'] as const;
export type ThpMode = (typeof THP_MODES)[number];
