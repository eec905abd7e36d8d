/** The files of a run directory or an extracted bundle, as '/'-separated relative paths in sorted order. */
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

export async function listFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/');
    // a manifest or report half written (.…tmp) is not part of the run
    if (!path.split('/').some((part) => part.startsWith('.'))) found.push(path);
  }
  return found.sort();
}
