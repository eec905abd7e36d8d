/**
 * The guest's /init (busybox ash, in init.sh beside this file). Its settings arrive on the kernel command line (vb.*), so one
 * initramfs serves every workload. It prints machine-readable `vb-...` lines on the serial
 * console; the harness reads them from QEMU's console file (see console.ts).
 *
 * Integrity: a reference buffer written once at boot is checksummed for the whole run, and the
 * working set is rewritten pass after pass alternately from two random blocks, so every slot
 * must equal one of them as a whole: a page the migration lost or garbled makes the slot match
 * neither. The slot checked is the one farthest from the writer; a check the writer overtook is
 * reported as "raced", never as a verdict.
 */
import { readFile } from 'node:fs/promises';
import { repoFile } from '../root.ts';

export function guestInitScript(): Promise<string> {
  return readFile(repoFile('harness/guest/init.sh'), 'utf8');
}
