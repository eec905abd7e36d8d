/**
 * A deterministic ustar archive, gzip-compressed: what `vdpa-bench bundle` writes and `verify`
 * reads. Every entry is a regular file with mode 0644, uid/gid 0, owner "root" and mtime 0, entries
 * in the order given (the bundle sorts them), and the gzip header carries no name or time, so the
 * same files give the same bytes. GNU tar, bsdtar and Python's tarfile read it (`tar xzf`).
 */
import { gunzipSync, gzipSync } from 'node:zlib';

export interface TarEntry {
  /** Path inside the archive, '/'-separated, no leading '/'. */
  name: string;
  data: Buffer;
}

const BLOCK = 512;
/** gzip level 6: on a lab-in-a-box run (traces and probe logs) level 9 was 0.07 % smaller and 4× slower (docs/verify.md). */
export const GZIP_LEVEL = 6;

export class ArchiveError extends Error {}

/** name (100 bytes) and prefix (155) of a ustar header: long paths are split at a '/'. */
function splitName(name: string): { prefix: string; base: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', base: name };
  for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const base = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100) return { prefix, base };
  }
  throw new ArchiveError(`path too long for a ustar archive: ${name}`);
}

const octal = (value: number, width: number) => value.toString(8).padStart(width - 1, '0') + '\0';

function header(entry: TarEntry): Buffer {
  const block = Buffer.alloc(BLOCK);
  const { prefix, base } = splitName(entry.name);
  block.write(base, 0, 100, 'utf8');
  block.write(octal(0o644, 8), 100, 'ascii');
  block.write(octal(0, 8), 108, 'ascii');
  block.write(octal(0, 8), 116, 'ascii');
  block.write(octal(entry.data.length, 12), 124, 'ascii');
  block.write(octal(0, 12), 136, 'ascii');
  block.write('        ', 148, 'ascii');
  block.write('0', 156, 'ascii');
  block.write('ustar\u000000', 257, 'ascii');
  block.write('root', 265, 'ascii');
  block.write('root', 297, 'ascii');
  block.write(prefix, 345, 155, 'utf8');
  block.write(octal(checksum(block), 7) + ' ', 148, 'ascii');
  return block;
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i];
  return sum;
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** The uncompressed archive: header and padded contents per entry, then two zero blocks. */
export function tarBytes(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) parts.push(header(entry), entry.data, padding(entry.data.length));
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

/** The .tar.gz bytes (node's gzip header has mtime 0 and no file name). */
export function writeTarGz(entries: readonly TarEntry[]): Buffer {
  return gzipSync(tarBytes(entries), { level: GZIP_LEVEL });
}

const field = (block: Buffer, from: number, length: number) => block.toString('utf8', from, from + length).replace(/\0.*$/s, '');

/** Regular files of a ustar (or GNU/pax) archive, gzip-compressed or not; directories and pax headers are skipped. */
export function readTar(bytes: Buffer): TarEntry[] {
  const tar = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  const entries: TarEntry[] = [];
  for (let at = 0; at + BLOCK <= tar.length;) {
    const block = tar.subarray(at, at + BLOCK);
    if (block.every((b) => b === 0)) break;
    const recorded = parseInt(field(block, 148, 8).trim(), 8);
    if (recorded !== checksum(block)) throw new ArchiveError(`archive header at byte ${at} has a bad checksum: not a tar archive, or damaged`);
    const size = parseInt(field(block, 124, 12).trim() || '0', 8);
    const type = field(block, 156, 1) || '0';
    const prefix = field(block, 345, 155);
    const name = (prefix ? `${prefix}/` : '') + field(block, 0, 100);
    const data = tar.subarray(at + BLOCK, at + BLOCK + size);
    if (data.length < size) throw new ArchiveError(`archive ends inside ${name}: truncated`);
    if (type === '0' || type === '7') entries.push({ name, data: Buffer.from(data) });
    at += BLOCK + size + padding(size).length;
  }
  return entries;
}
