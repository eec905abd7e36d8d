/**
 * The README's first command must work on a fresh Debian machine: when the local QEMU is
 * missing, install it (as root, saying so) or print the exact command that would.
 */
import { execa } from 'execa';

export const QEMU_PACKAGE = 'qemu-system-x86';
export const INSTALL_COMMAND = `sudo apt-get update && sudo apt-get install -y ${QEMU_PACKAGE}`;

async function found(binary: string): Promise<boolean> {
  const r = await execa(binary, ['--version'], { reject: false });
  return r.exitCode === 0;
}

/** Ensures `binary` runs locally; returns a message for the user when it cannot. */
export async function ensureLocalQemu(binary: string, log: (line: string) => void): Promise<string | null> {
  if (await found(binary)) return null;
  if (binary !== 'qemu-system-x86_64') return `QEMU binary "${binary}" was not found or does not run: check the variant's qemu.binary`;
  const isRoot = process.getuid?.() === 0;
  const hasApt = (await execa('apt-get', ['--version'], { reject: false })).exitCode === 0;
  if (!isRoot || !hasApt) {
    return `QEMU is not installed (${binary} not found). Install it with:\n  ${INSTALL_COMMAND}`;
  }
  log(`QEMU is not installed: installing ${QEMU_PACKAGE} with apt-get (running as root)…`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const update = await execa('apt-get', ['update'], { reject: false, env, stdout: 'ignore', stderr: 'pipe' });
  if (update.exitCode !== 0) log(`apt-get update failed (${String(update.stderr).trim().split('\n').pop()}); trying the install anyway`);
  const install = await execa('apt-get', ['install', '-y', '--no-install-recommends', QEMU_PACKAGE], { reject: false, env, stdout: 'ignore', stderr: 'pipe' });
  if (install.exitCode !== 0 || !(await found(binary))) {
    return `installing ${QEMU_PACKAGE} failed:\n  ${String(install.stderr).trim().split('\n').slice(-3).join('\n  ')}\nInstall it by hand with:\n  ${INSTALL_COMMAND}`;
  }
  log(`installed ${QEMU_PACKAGE}`);
  return null;
}
