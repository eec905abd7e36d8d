// A hash of everything the compiled CLI is built from, so bin/vdpa-bench.js can tell whether
// dist/ still matches the sources. Contents, not mtimes: a checkout or a copy cannot fool it.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** @param {string} dir @returns {string[]} the .ts files below dir */
function files(dir) {
  /** @type {string[]} */
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

export function sourceHash() {
  const hash = createHash('sha256');
  for (const path of [...files(join(ROOT, 'harness')), join(ROOT, 'package-lock.json')].sort()) {
    hash.update(relative(ROOT, path)).update('\0').update(readFileSync(path)).update('\0');
  }
  return hash.digest('hex');
}
