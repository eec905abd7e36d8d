/**
 * docs/architecture.md against the tree and against the enforced rules: its layer table is the
 * order .dependency-cruiser.cjs enforces, its code map names every harness folder and every file in it,
 * and only files that exist, and no harness file is over 400 lines; test/ mirrors harness/ folder by folder.
 */
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const HARNESS = join(ROOT, 'harness');
const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
const config = createRequire(import.meta.url)(join(ROOT, '.dependency-cruiser.cjs')) as { forbidden: { name: string; to: { path?: string } }[] };

/** Folders of harness/ and the .ts files directly in it: the units the layers are made of. */
const units = readdirSync(HARNESS).filter((entry) => statSync(join(HARNESS, entry)).isDirectory() || entry.endsWith('.ts'));

function layerTable(): Map<string, number> {
  const ranks = new Map<string, number>();
  for (const row of doc.matchAll(/^\| (\d+) \| ([^|]+) \|/gm)) {
    for (const name of row[2].matchAll(/`([^`]+)`/g)) ranks.set(name[1].replace(/\/$/, ''), Number(row[1]));
  }
  return ranks;
}

test('the layer table names every folder of harness/ once', (t) => {
  const ranks = layerTable();
  t.deepEqual([...ranks.keys()].sort(), [...units].sort());
});

test('the layer table is the order the dependency rules enforce', (t) => {
  const ranks = layerTable();
  // a file in each unit, as dependency-cruiser sees paths (relative to the repository)
  const sample = (unit: string) => (unit.endsWith('.ts') ? `harness/${unit}` : `harness/${unit}/any.ts`);
  for (const [from, rank] of ranks) {
    const rule = config.forbidden.find((r) => r.name === `layer-${from.replace(/\.ts$/, '')}`);
    const forbidden = rule?.to.path ? new RegExp(rule.to.path) : null;
    for (const [to, toRank] of ranks) {
      if (to === from) continue;
      const shouldForbid = toRank >= rank;
      t.is(
        forbidden?.test(sample(to)) ?? false,
        shouldForbid,
        `${from} (layer ${rank}) → ${to} (layer ${toRank}) should be ${shouldForbid ? 'forbidden' : 'allowed'}`,
      );
    }
  }
});

test('the code map has an entry for every harness folder, names every file in it, and names only files that exist', (t) => {
  const map = doc.slice(doc.indexOf('## Code map'), doc.indexOf('\n## ', doc.indexOf('## Code map') + 1));
  const entries = [...map.matchAll(/^- `harness\/([^/`]+)\/`:([\s\S]*?)(?=^- |^\S|$(?![\s\S]))/gm)];
  const folders = units.filter((u) => !u.endsWith('.ts'));
  t.deepEqual(entries.map((e) => e[1]).sort(), [...folders].sort(), 'one entry per folder');
  for (const [, folder, text] of entries) {
    const named = new Set([...text.matchAll(/`([\w.-]+\.(?:ts|c|sh))`/g)].map((m) => m[1]));
    for (const name of named) t.true(existsIn(join(HARNESS, folder), name), `harness/${folder}/${name} is in the code map but not in the tree`);
    // and the other way round: a file the map does not name is a file a newcomer cannot place
    for (const file of readdirSync(join(HARNESS, folder))) t.true(named.has(file), `harness/${folder}/${file} is in the tree but not in the code map`);
  }
  for (const path of doc.matchAll(/`((?:harness|test|bench|testbed|bin)\/[\w./-]*)`/g)) {
    t.true(existsIn(ROOT, path[1]), `${path[1]} is named in docs/architecture.md but does not exist`);
  }
});

test('no harness file is over 400 lines', (t) => {
  for (const file of tsFiles(HARNESS)) {
    const lines = readFileSync(join(HARNESS, file), 'utf8').split('\n').length - 1;
    t.true(lines <= 400, `harness/${file} has ${lines} lines`);
  }
});

/** Outside the mirror: what tests share, recorded runs, the long runs (docs/testing.md). */
const TEST_SUPPORT = ['helpers', 'fixtures', 'slow'];
/** Tests of the repository as a whole, at the top of test/. */
const REPOSITORY_TESTS = ['architecture.test.ts', 'dist.test.ts', 'docs.test.ts', 'test-needs.test.ts'];

test('test/ mirrors harness/: every folder of test/ is a folder of harness/, and only the repository-wide tests sit at the top', (t) => {
  const TEST = join(ROOT, 'test');
  const folders = (dir: string, prefix = ''): string[] =>
    readdirSync(join(dir, prefix), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !(prefix === '' && TEST_SUPPORT.includes(entry.name)))
      .flatMap((entry) => {
        const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
        return [relative, ...folders(dir, relative)];
      });
  for (const folder of folders(TEST)) t.true(existsIn(HARNESS, folder), `test/${folder}/ has no harness/${folder}/ to mirror`);
  const top = readdirSync(TEST).filter((entry) => entry.endsWith('.test.ts'));
  t.deepEqual(top.sort(), REPOSITORY_TESTS, 'a test of harness/X/ goes in test/X/');
});

function existsIn(dir: string, path: string): boolean {
  try {
    statSync(join(dir, path));
    return true;
  } catch {
    return false;
  }
}

function tsFiles(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) return tsFiles(dir, relative);
    return entry.name.endsWith('.ts') ? [relative] : [];
  });
}
