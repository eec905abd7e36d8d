/** The kernel command line that carries a builtin-linux guest's settings to its /init (pure). */
import type { BuiltinLinuxGuest } from './schema.ts';
import { parseDuration, parseSize } from './size.ts';

const MiB = 1024 * 1024;

function wholeMiB(value: string, what: string): number {
  const bytes = parseSize(value);
  if (bytes % MiB !== 0 || bytes === 0) throw new Error(`${what} ${value}: must be a whole number of MiB (the guest copies 1 MiB blocks)`);
  return bytes / MiB;
}

export function guestKernelCmdline(guest: BuiltinLinuxGuest): string {
  // no_timer_check: on a busy TCG host the IO-APIC timer check can fail and panic the boot
  const args = ['console=ttyS0', 'loglevel=5', 'mitigations=off', 'no_timer_check', `vb.ip=${guest.address}`];
  if (!guest.ipv6) args.push('ipv6.disable=1');
  args.push(`vb.ref=${wholeMiB(guest.integrity.reference, 'integrity.reference')}`);
  args.push(`vb.check=${Math.max(1, Math.round(parseDuration(guest.integrity.interval)))}`);
  if (guest.workload.kind === 'dirty') {
    const ws = wholeMiB(guest.workload.workingSet, 'workload.workingSet');
    const chunk = wholeMiB(guest.workload.chunk, 'workload.chunk');
    if (ws % chunk !== 0 || ws / chunk < 2)
      throw new Error(`workload.workingSet ${guest.workload.workingSet} must be at least two whole chunks of ${guest.workload.chunk}`);
    const rate = guest.workload.rate ? parseSize(guest.workload.rate) / MiB : 0;
    if (guest.workload.rate && rate < 1) throw new Error(`workload.rate ${guest.workload.rate}: at least 1M per second`);
    args.push(`vb.ws=${ws}`, `vb.chunk=${chunk}`, `vb.rate=${Math.round(rate)}`);
  }
  return args.join(' ');
}

/** The guest's /work tmpfs as its /init sizes it: working set, two source chunks, reference block and slack. */
export function guestTmpfsBytes(guest: BuiltinLinuxGuest): number {
  const ws = guest.workload.kind === 'dirty' ? wholeMiB(guest.workload.workingSet, 'workload.workingSet') : 0;
  const chunk = guest.workload.kind === 'dirty' ? wholeMiB(guest.workload.chunk, 'workload.chunk') : 16;
  return (ws + chunk * 2 + wholeMiB(guest.integrity.reference, 'integrity.reference') + 8) * MiB;
}
