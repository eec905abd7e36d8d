/**
 * A "newc" cpio archive writer (pure), the format the kernel unpacks an initramfs from.
 * Written here so building a guest needs no cpio binary on the machine.
 */

export interface CpioEntry {
  path: string;
  /** File type and permission bits, e.g. 0o100755 for an executable, 0o040755 for a directory. */
  mode: number;
  data?: Buffer;
  /** For symlinks: the target (stored as the entry's data). */
  linkTarget?: string;
  /** For device nodes: [major, minor]. */
  rdev?: [number, number];
}

export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

function header(fields: number[], name: string): Buffer {
  const hex = fields.map((n) => n.toString(16).padStart(8, '0')).join('');
  return Buffer.from(`070701${hex}${name}\0`, 'latin1');
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

export function cpioArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (entry: CpioEntry) => {
    const data = entry.linkTarget !== undefined ? Buffer.from(entry.linkTarget) : (entry.data ?? Buffer.alloc(0));
    const name = entry.path.replace(/^\/+/, '');
    // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
    const head = header([ino++, entry.mode, 0, 0, 1, 0, data.length, 0, 0, entry.rdev?.[0] ?? 0, entry.rdev?.[1] ?? 0, Buffer.byteLength(name) + 1, 0], name);
    parts.push(head, pad4(head.length), data, pad4(data.length));
  };
  for (const entry of entries) push(entry);
  push({ path: 'TRAILER!!!', mode: 0 });
  return Buffer.concat(parts);
}
