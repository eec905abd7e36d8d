#!/usr/bin/env node
// Runs the compiled CLI in dist/ when it was built from exactly these sources (npm ci builds it),
// otherwise the TypeScript itself through tsx: an edited tree never runs stale code.
import { readFileSync } from 'node:fs';
import { sourceHash } from './source-hash.js';

function compiledIsCurrent() {
  if (process.env.VDPA_BENCH_TSX) return false;
  try {
    return readFileSync(new URL('../dist/source-hash', import.meta.url), 'utf8').trim() === sourceHash();
  } catch {
    return false;
  }
}

let main;
if (compiledIsCurrent()) {
  ({ main } = await import('../dist/main.js'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../harness/cli/main.ts'));
}
process.exitCode = await main(process.argv);
// an interrupted run has ended its processes and released its locks: whatever still keeps the
// event loop busy (a connection closing slowly) must not keep Ctrl-C from ending the command
if (process.exitCode === 130)
  globalThis
    .setTimeout(() => {
      process.stderr.write('vdpa-bench: still busy 3 s after the interrupted run ended; exiting\n');
      process.exit(130);
    }, 3_000)
    .unref();
