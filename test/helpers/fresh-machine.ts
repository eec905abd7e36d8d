/**
 * A newcomer's machine for tests: commands run through test/helpers/fresh-machine.sh, with no QEMU
 * of the host's on PATH and a /dev/kvm (the machine's own, else a KVM device node with no driver
 * behind it, in a mount namespace of the command's own). The one place both the fresh-machine test
 * and the first-command CI run get that state from.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { BIN, REPO } from './cli.ts';

export const FRESH_MACHINE_SCRIPT = fileURLToPath(new URL('./fresh-machine.sh', import.meta.url));

/** True when this machine has a /dev/kvm of its own (then the fresh machine uses it as it is). */
export const OWN_KVM_DEVICE = existsSync('/dev/kvm');

/** argv that runs `argv` on the fresh machine. */
export function onFreshMachine(argv: readonly string[]): string[] {
  return ['bash', FRESH_MACHINE_SCRIPT, ...argv];
}

/** The real CLI as a newcomer runs it (node itself stays: a fresh machine has Node 20). */
export function vdpaBenchOnFreshMachine(args: readonly string[], timeoutMs: number) {
  const [file, ...rest] = onFreshMachine([process.execPath, BIN, ...args]);
  return execa(file, rest, { cwd: REPO, reject: false, timeout: timeoutMs, all: true });
}

/** This machine's transport with every command run on the fresh machine (its prefix, as the netns transport's). */
export function freshMachineTransport(name: string): LocalTransport {
  return new LocalTransport(name, onFreshMachine([]));
}
