/**
 * The README's first command must work on a fresh Debian machine: what a local run needs from
 * this machine (QEMU; for the lab in a box also gcc, depmod, ip and apt's package lists) is
 * installed when missing, as root and saying so, or the exact command is printed.
 */
import { readdir } from 'node:fs/promises';
import { execa } from 'execa';

export interface LocalNeed {
  /** What it is for, in the message. */
  what: string;
  packages: string[];
  present(): Promise<boolean>;
}

const runs = async (file: string, args: string[]) => (await execa(file, args, { reject: false })).exitCode === 0;

export const QEMU_PACKAGE = 'qemu-system-x86';

export const qemuNeed = (binary: string): LocalNeed => ({ what: `QEMU (${binary})`, packages: [QEMU_PACKAGE], present: () => runs(binary, ['--version']) });

/** A `qemu.debian` variant on this machine: its suite's root filesystem is made with debootstrap. */
export const debootstrapNeed: LocalNeed = {
  what: 'debootstrap, for the Debian suite a variant runs QEMU from',
  packages: ['debootstrap'],
  present: async () => (await runs('debootstrap', ['--version'])) || (await runs('test', ['-x', '/usr/sbin/debootstrap'])),
};

/** The lab in a box: the prober is compiled with gcc, the guest's modules indexed by depmod, the namespaces made with ip. */
export const labBoxNeeds: LocalNeed[] = [
  {
    what: 'a C compiler for the ICMP prober (gcc, libc headers)',
    packages: ['gcc', 'libc6-dev'],
    present: async () => (await runs('gcc', ['--version'])) && (await runs('test', ['-e', '/usr/include/stdio.h'])),
  },
  { what: 'depmod, to index the guest kernel modules', packages: ['kmod'], present: () => runs('depmod', ['--version']) },
  { what: 'ip, for the network namespaces', packages: ['iproute2'], present: () => runs('ip', ['-V']) },
];

async function aptListsPresent(): Promise<boolean> {
  const files = await readdir('/var/lib/apt/lists').catch(() => [] as string[]);
  return files.some((f) => f.endsWith('_Packages') || f.endsWith('_Packages.lz4'));
}

async function missingOf(needs: LocalNeed[]): Promise<LocalNeed[]> {
  const present = await Promise.all(needs.map((n) => n.present()));
  return needs.filter((_, i) => !present[i]);
}

export const installCommand = (packages: string[]) => `sudo apt-get update && sudo apt-get install -y ${packages.join(' ')}`;

/**
 * Installs what is missing; returns a message for the user when it cannot. `aptLists`: the run
 * downloads Debian packages itself (the lab-in-a-box guest), so apt must know the archive.
 */
export async function ensureLocalPackages(needs: LocalNeed[], log: (line: string) => void, options: { aptLists?: boolean } = {}): Promise<string | null> {
  const missing = await missingOf(needs);
  const needLists = options.aptLists === true && !(await aptListsPresent());
  if (missing.length === 0 && !needLists) return null;
  const packages = [...new Set(missing.flatMap((n) => n.packages))];
  const missingText = missing.map((n) => n.what).join('; ');
  const isRoot = process.getuid?.() === 0;
  const hasApt = await runs('apt-get', ['--version']);
  if (!isRoot || !hasApt) {
    if (packages.length === 0) return 'apt has no package lists (the lab-in-a-box guest is built from Debian packages). Run:\n  sudo apt-get update';
    return `missing: ${missingText}. Install with:\n  ${installCommand(packages)}`;
  }
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  log(
    packages.length
      ? `missing: ${missingText}: installing ${packages.join(' ')} with apt-get (running as root)…`
      : 'apt has no package lists: running apt-get update (running as root)…',
  );
  const update = await execa('apt-get', ['update'], { reject: false, env, stdout: 'ignore', stderr: 'pipe' });
  if (update.exitCode !== 0)
    log(`apt-get update failed (${String(update.stderr).trim().split('\n').pop()})${packages.length ? '; trying the install anyway' : ''}`);
  if (packages.length === 0) return update.exitCode === 0 ? null : `apt-get update failed: ${String(update.stderr).trim().split('\n').slice(-2).join(' ')}`;
  const install = await execa('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { reject: false, env, stdout: 'ignore', stderr: 'pipe' });
  if (install.exitCode !== 0 || (await missingOf(missing)).length > 0) {
    return `installing ${packages.join(' ')} failed:\n  ${String(install.stderr).trim().split('\n').slice(-3).join('\n  ')}\nInstall by hand with:\n  ${installCommand(packages)}`;
  }
  log(`installed ${packages.join(' ')}`);
  return null;
}
