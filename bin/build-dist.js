#!/usr/bin/env node
// Compiles the CLI to dist/ (esbuild, one chunk per lazily loaded part), run by `npm ci`
// (prepare) and `npm run build`. Without an up-to-date dist/ the CLI runs the TypeScript through
// tsx, which works the same but costs most of a second at every start.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT, sourceHash } from './source-hash.js';

// --out DIR: elsewhere (the test that checks the compiled CLI builds into a temporary directory)
const at = process.argv.indexOf('--out');
const out = at > 0 ? process.argv[at + 1] : join(ROOT, 'dist');
const started = performance.now();
const hash = sourceHash();
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: { main: join(ROOT, 'harness/cli/main.ts') },
  outdir: out,
  bundle: true,
  splitting: true,
  // flat: every chunk one level below the root, as harness/root.ts expects
  chunkNames: 'chunk-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
// written last: a build that failed half-way leaves no stamp, so the CLI keeps using tsx
await writeFile(join(out, 'source-hash'), hash + '\n');
console.error(`vdpa-bench: compiled the CLI to dist/ in ${Math.round(performance.now() - started)} ms`);
