/**
 * bundle and verify on the real published bundle (docs/results/2026-12-07-lab-in-a-box-bundle):
 * it verifies from the archive and extracted; one changed timestamp, one changed record and one
 * removed trace each fail with the reason; every other published result verifies, and the one that
 * ships without traces says exactly which files are missing. These are the checks `npm test` runs on every shipped result.
 */
import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IterationRecord } from '../../harness/results/types.ts';
import type { VerifyResult } from '../../harness/verify/verify.ts';
import { REPO, vdpaBench } from '../helpers/cli.ts';
import { parseJson } from '../helpers/json.ts';

const BUNDLE_DIR = join(REPO, 'docs/results/2026-12-07-lab-in-a-box-bundle');
const RUN_ID = 'lab-in-a-box-20261207-115421-3482';
const BUNDLE = join(BUNDLE_DIR, `${RUN_ID}.tar.gz`);

async function extracted(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vb-verify-'));
  await execa('tar', ['xzf', BUNDLE, '-C', dir]);
  return join(dir, RUN_ID);
}

async function verifyJson(target: string) {
  const r = await vdpaBench(['verify', target, '--json']);
  return { exitCode: r.exitCode, result: parseJson<VerifyResult>(r.stdout), stderr: r.stderr };
}

const firstRecord = async (dir: string) => parseJson<IterationRecord>((await readFile(join(dir, 'iterations.ndjson'), 'utf8')).split('\n')[0]);

test('verify on the published bundle, read as the archive itself: every migration, figure and checksum matches', async (t) => {
  const r = await vdpaBench(['verify', BUNDLE]);
  t.is(r.exitCode, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /migrations recomputed +12 of 12/);
  t.regex(r.stdout, /checksums +92 files, all match/);
  t.regex(r.stdout, /statistics re-derived +\d{3,} figures from reports\/summary\.json, 0 differ/);
  t.regex(r.stdout, /1 seed-form lines, 0 summary\.txt lines differ/);
  t.regex(r.stdout, /^verified: /m);
});

test('verify on the extracted bundle passes too, and GNU tar and sha256sum read what bundle wrote', async (t) => {
  const dir = await extracted();
  const { exitCode, result } = await verifyJson(dir);
  t.is(exitCode, 0);
  t.deepEqual(result.mismatches, []);
  t.is((await execa('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: dir, reject: false })).exitCode, 0);
  await rm(join(dir, '..'), { recursive: true });
});

test('one trace timestamp changed: the metric it anchors differs, and the checksum and the recorded trace range name the file', async (t) => {
  const dir = await extracted();
  const record = await firstRecord(dir);
  const file = join(dir, record.traces.destination);
  const lines = (await readFile(file, 'utf8')).split('\n');
  const index = record.metricAnchors!.runstate.end.line - 1;
  // 543.688559 → 543.689559: the destination resumed 1 ms later (still inside the migration's window)
  lines[index] = lines[index].replace(/\.(\d\d)(\d)(\d{3}):/, (_m, a, b, rest) => `.${a}${(Number(b) + 1) % 10}${rest}:`);
  await writeFile(file, lines.join('\n'));
  const { exitCode, result } = await verifyJson(dir);
  t.is(exitCode, 1);
  const runstate = result.mismatches.find((m: { seq: number; metric: string }) => m.seq === 1 && m.metric === 'runstate');
  if (!runstate) return t.fail(JSON.stringify(result.mismatches));
  t.is(Math.round(Number(runstate.recomputed) - Number(runstate.recorded)), 1);
  t.true(result.mismatches.some((m: { metric: string }) => m.metric === `destination trace sha256 (${record.traces.destination})`));
  t.deepEqual(result.checksums?.bad, [record.traces.destination]);
  await rm(join(dir, '..'), { recursive: true });
});

test('one record changed: the recorded figure is not what its traces give', async (t) => {
  const dir = await extracted();
  const text = await readFile(join(dir, 'iterations.ndjson'), 'utf8');
  const record = await firstRecord(dir);
  const runstate = record.metrics.runstate!;
  const changed = text.replace(`"runstate":${runstate},`, `"runstate":${runstate - 50},`);
  t.not(changed, text);
  await writeFile(join(dir, 'iterations.ndjson'), changed);
  const r = await vdpaBench(['verify', dir]);
  t.is(r.exitCode, 1);
  t.regex(r.stdout, new RegExp(`^ +1 +runstate +${runstate - 50} → ${runstate}$`, 'm'));
  t.regex(r.stdout, /checksums +1 of 92 wrong: iterations\.ndjson changed/);
  t.regex(r.stdout, /^NOT verified/m);
  await rm(join(dir, '..'), { recursive: true });
});

test('one trace removed: verify names it as missing and fails', async (t) => {
  const dir = await extracted();
  const record = await firstRecord(dir);
  await unlink(join(dir, record.traces.source));
  const { exitCode, result } = await verifyJson(dir);
  t.is(exitCode, 1);
  t.deepEqual(result.missingFiles, [record.traces.source]);
  t.is(result.migrations.recomputed, 11);
  await rm(join(dir, '..'), { recursive: true });
});

test('records from before traceRanges existed still verify, and verify names the field they lack', async (t) => {
  const dir = await extracted();
  const lines = (await readFile(join(dir, 'iterations.ndjson'), 'utf8')).split('\n').filter(Boolean);
  const older = lines.map((l) => {
    const { traceRanges: _, ...rest } = parseJson<IterationRecord>(l);
    return JSON.stringify(rest);
  });
  await writeFile(join(dir, 'iterations.ndjson'), older.join('\n') + '\n');
  await unlink(join(dir, 'SHA256SUMS'));
  const r = await vdpaBench(['verify', dir]);
  t.is(r.exitCode, 0, r.stdout);
  t.regex(r.stdout, /note: .*no traceRanges field/);
  t.regex(r.stdout, /checksums +not a bundle/);
  await rm(join(dir, '..'), { recursive: true });
});

test('bundle is byte-identical across two runs, and bundling the extracted bundle gives back its files', async (t) => {
  const dir = await extracted();
  const out = join(dir, '..');
  const a = await vdpaBench(['bundle', dir, '-o', join(out, 'a.tar.gz')]);
  t.is(a.exitCode, 0, a.stderr);
  await vdpaBench(['bundle', dir, '-o', join(out, 'b.tar.gz')]);
  const [first, second] = await Promise.all([readFile(join(out, 'a.tar.gz')), readFile(join(out, 'b.tar.gz'))]);
  t.true(first.equals(second));
  const listed = async (file: string) => (await execa('tar', ['tzf', file])).stdout.split('\n').sort();
  t.deepEqual(await listed(join(out, 'a.tar.gz')), await listed(BUNDLE));
  t.is((await vdpaBench(['verify', join(out, 'a.tar.gz')])).exitCode, 0);
  await rm(out, { recursive: true });
});

/**
 * Every result the repository publishes: docs/examples/* and every docs/results/<result>/run or
 * bundle. Found on disk, so a result added without its raw data fails here.
 */
async function publishedResults(): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(join(REPO, 'docs/examples'))) found.push(join('docs/examples', entry));
  for (const result of await readdir(join(REPO, 'docs/results'), { withFileTypes: true })) {
    if (!result.isDirectory()) continue;
    for (const entry of await readdir(join(REPO, 'docs/results', result.name))) {
      const path = join('docs/results', result.name, entry);
      if (entry.endsWith('.tar.gz') || (await stat(join(REPO, path, 'manifest.json')).catch(() => null))) found.push(path);
    }
  }
  return found.sort();
}

/** Published before bundles existed: traces were never committed; re-run results replace them (issue #21). */
const WITHOUT_TRACES = new Map([['docs/results/2026-11-28-softlab-two-hosts-precision/run', 116]]);

test('every published result verifies: every migration recomputed from its traces, every recorded statistic re-derived', async (t) => {
  const results = await publishedResults();
  t.true(results.includes('docs/examples/lab-in-a-box'), results.join(' '));
  for (const path of results) {
    if (WITHOUT_TRACES.has(path)) continue;
    const r = await verifyJson(join(REPO, path));
    t.is(r.exitCode, 0, `${path}: ${r.stderr}`);
    t.is(r.result.missingFiles.length, 0, path);
    t.deepEqual(r.result.mismatches, [], path);
    t.true(r.result.migrations.recomputed > 0, path);
  }
});

test('the example run re-derives all 16 migrations and its recorded summary', async (t) => {
  const r = await vdpaBench(['verify', join(REPO, 'docs/examples/lab-in-a-box')]);
  t.is(r.exitCode, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /migrations recomputed +16 of 16/);
  t.regex(r.stdout, /statistics re-derived +\d{3,} figures from reports\/summary\.json, 0 differ/);
});

test('the published result that ships without traces: verify fails naming every missing trace, and what can be re-derived matches', async (t) => {
  for (const [path, missing] of WITHOUT_TRACES) {
    const precision = await verifyJson(join(REPO, path));
    t.is(precision.exitCode, 1);
    t.is(precision.result.migrations.recomputed, 0);
    t.is(precision.result.missingFiles.length, missing);
    t.true(precision.result.missingFiles.every((f: string) => /^traces\/\d{4}-.*\.log$/.test(f)));
    t.deepEqual('differences' in precision.result.statistics ? precision.result.statistics.differences : precision.result.statistics, []);
    t.deepEqual('differences' in precision.result.seedLines ? precision.result.seedLines.differences : precision.result.seedLines, []);
  }
});
