/** Tests declare root, QEMU, sshd and Chromium through requires(), so skip-or-fail is decided in one place. */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO } from './helpers/cli.ts';

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'slow' || entry.name === 'fixtures' ? [] : testFiles(path); // slow/ gates itself on VDPA_BENCH_SLOW
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

test('no test decides on its own whether root, CI or Chromium is there', (t) => {
  const own = testFiles(join(REPO, 'test')).filter((file) => /process\.getuid|process\.env\.CI\b|existsSync\(CHROMIUM/.test(readFileSync(file, 'utf8')));
  t.deepEqual(
    own.map((file) => relative(REPO, file)),
    [],
    'use requires(...) from test/helpers/requires.ts',
  );
});
