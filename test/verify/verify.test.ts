/**
 * bundle and verify on the published lab example (docs/examples/lab-in-a-box), bundled here: the
 * archive is byte-identical across two bundles and verifies read as the archive and extracted; one
 * changed timestamp, one changed record and one removed trace each fail with the reason. Then every
 * results directory the repository publishes: whatever holds figures must ship its raw data and
 * verify (no exceptions), and records without their traces fail naming every missing file.
 */
import test from 'ava';
import { execa } from 'execa';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { IterationRecord } from '../../harness/results/types.ts';
import { listFiles } from '../../harness/verify/files.ts';
import { readTar } from '../../harness/verify/tar.ts';
import type { VerifyResult } from '../../harness/verify/verify.ts';
import { REPO, vdpaBench } from '../helpers/cli.ts';
import { parseJson } from '../helpers/json.ts';

const EXAMPLE = join(REPO, 'docs/examples/lab-in-a-box');
const RUN_ID = 'lab-in-a-box-20261207-154203-2970';

/** The published lab example, bundled once for this file: the archive the tamper tests start from. */
let scratch = '';
let BUNDLE = '';
test.before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'vb-verify-bundle-'));
  BUNDLE = join(scratch, `${RUN_ID}.tar.gz`);
  const r = await vdpaBench(['bundle', EXAMPLE, '-o', BUNDLE]);
  if (r.exitCode !== 0) throw new Error(`bundle of the example failed: ${r.stderr}`);
});
test.after.always(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

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

test('verify on the bundle of the published example, read as the archive itself: every migration, figure and checksum matches', async (t) => {
  const r = await vdpaBench(['verify', BUNDLE]);
  t.is(r.exitCode, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /migrations recomputed +16 of 16/);
  t.regex(r.stdout, /checksums +113 files, all match/);
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
  // 138.118696 → 138.118796: the destination resumed 0.1 ms later (still inside its recorded window, which ends at 138.118828)
  lines[index] = lines[index].replace(/\.(\d{3})(\d)(\d\d):/, (_m, a, b, rest) => `.${a}${(Number(b) + 1) % 10}${rest}:`);
  await writeFile(file, lines.join('\n'));
  const { exitCode, result } = await verifyJson(dir);
  t.is(exitCode, 1);
  const runstate = result.mismatches.find((m: { seq: number; metric: string }) => m.seq === 1 && m.metric === 'runstate');
  if (!runstate) return t.fail(JSON.stringify(result.mismatches));
  t.is((Number(runstate.recomputed) - Number(runstate.recorded)).toFixed(3), '0.100');
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
  t.regex(r.stdout, /checksums +1 of 113 wrong: iterations\.ndjson changed/);
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
  t.is(result.migrations.recomputed, 15);
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

test('bundle of the lab example is byte-identical across two runs, and bundling the extracted bundle gives the same bytes again', async (t) => {
  const dir = await extracted();
  const out = join(dir, '..');
  const again = await vdpaBench(['bundle', EXAMPLE, '-o', join(out, 'again.tar.gz')]);
  t.is(again.exitCode, 0, again.stderr);
  t.regex(again.stderr, /bundle: compressing \d+ files/, 'the progress line');
  const rebundled = await vdpaBench(['bundle', dir, '-o', join(out, 'rebundled.tar.gz')]);
  t.is(rebundled.exitCode, 0, rebundled.stderr);
  const [first, second, third] = await Promise.all([BUNDLE, join(out, 'again.tar.gz'), join(out, 'rebundled.tar.gz')].map((f) => readFile(f)));
  t.true(first.equals(second), 'the same run directory, bundled twice');
  t.true(first.equals(third), 'the extracted bundle, bundled again');
  await rm(out, { recursive: true });
});

/** A file that states figures: records, a summary or a report. */
const FIGURES = /^(summary\.(json|txt)|report\.[^/]+|iterations\.ndjson)$/;

interface Published {
  /** docs/examples/<name> or docs/results/<name>, relative to the root. */
  dir: string;
  /** Its files that state figures, relative to the root. */
  figures: string[];
  /** What verify can check: bundles (*.tar.gz) and run directories (holding iterations.ndjson). */
  targets: string[];
}

/** Every directory under docs/examples/ and docs/results/ that holds figures or a bundle anywhere in it. Found on disk, so nothing is left out by a list. */
async function publishedResults(root: string): Promise<Published[]> {
  const found: Published[] = [];
  for (const parent of ['docs/examples', 'docs/results']) {
    for (const entry of await readdir(join(root, parent), { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory()) continue;
      const dir = join(parent, entry.name);
      const files = (await listFiles(join(root, dir))).map((f) => join(dir, f));
      const figures = files.filter((f) => FIGURES.test(basename(f)));
      const bundles = files.filter((f) => f.endsWith('.tar.gz'));
      // a bundle states figures too (its records and reports): a directory holding one is published
      if (figures.length === 0 && bundles.length === 0) continue;
      const runDirs = files.filter((f) => basename(f) === 'iterations.ndjson').map((f) => dirname(f));
      found.push({ dir, figures, targets: [...bundles, ...runDirs].sort() });
    }
  }
  return found.sort((a, b) => a.dir.localeCompare(b.dir));
}

/**
 * What keeps a published directory from being re-derived: no bundle or run directory at all, a
 * target that does not verify in full (every migration recomputed, every statistic re-derived,
 * nothing missing), or a figure file that is neither inside a run directory that verified nor a
 * copy of a file inside a bundle that verified. Empty when everything it states re-derives.
 */
async function unverifiable(root: string, published: Published): Promise<string[]> {
  const problems: string[] = [];
  if (published.targets.length === 0)
    return [
      `${published.dir}: holds figures (${published.figures.join(', ')}) but no bundle or run directory to re-derive them from: ship its raw data or withdraw it`,
    ];
  const verifiedRuns: string[] = [];
  const failedRuns: string[] = [];
  const verifiedEntries: { name: string; data: Buffer }[] = [];
  for (const target of published.targets) {
    const r = await vdpaBench(['verify', join(root, target), '--json']);
    const result = r.exitCode === 2 ? null : parseJson<VerifyResult>(r.stdout);
    const rederived = result !== null && 'figures' in result.statistics && result.statistics.figures > 0;
    if (
      !result ||
      r.exitCode !== 0 ||
      !result.ok ||
      result.missingFiles.length > 0 ||
      result.mismatches.length > 0 ||
      result.migrations.recomputed === 0 ||
      !rederived
    ) {
      const why = result
        ? `${result.migrations.recomputed} of ${result.migrations.total} migrations recomputed, ${result.missingFiles.length} files missing (${result.missingFiles.slice(0, 3).join(', ')}), ${result.mismatches.length} mismatches, statistics ${JSON.stringify(result.statistics).slice(0, 120)}`
        : r.stderr;
      problems.push(`${target}: does not verify (exit ${r.exitCode}): ${why}`);
      if (!target.endsWith('.tar.gz')) failedRuns.push(target);
      continue;
    }
    if (target.endsWith('.tar.gz')) verifiedEntries.push(...readTar(await readFile(join(root, target))).map((e) => ({ name: basename(e.name), data: e.data })));
    else verifiedRuns.push(target);
  }
  for (const file of published.figures) {
    // a failed run directory's own files are named by its failure above
    if ([...verifiedRuns, ...failedRuns].some((run) => file.startsWith(`${run}/`))) continue;
    const data = await readFile(join(root, file));
    if (verifiedEntries.some((e) => e.name === basename(file) && e.data.equals(data))) continue;
    problems.push(`${file}: states figures that no verified run directory or bundle holds`);
  }
  return problems;
}

test('every published directory that holds figures ships its raw data and verifies: every migration recomputed from its traces, every recorded statistic re-derived', async (t) => {
  const published = await publishedResults(REPO);
  const dirs = published.map((p) => p.dir);
  t.true(dirs.includes('docs/examples/lab-in-a-box'), dirs.join(' '));
  t.true(dirs.includes('docs/results/2026-12-07-softlab-two-hosts-sid'), dirs.join(' '));
  const problems = (await Promise.all(published.map((p) => unverifiable(REPO, p)))).flat();
  t.deepEqual(problems, []);
});

test("the check above fails on figures without their raw data: reports only, records without traces, a summary beside a bundle that is not the bundle's", async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'vb-published-'));
  try {
    const results = join(root, 'docs/results');
    const reportsOnly = join(results, 'reports-only');
    await mkdir(reportsOnly, { recursive: true });
    await cp(join(EXAMPLE, 'reports/summary.txt'), join(reportsOnly, 'summary.txt'));
    await cp(join(REPO, 'test/fixtures/two-hosts-precision'), join(results, 'records-only/run'), { recursive: true });
    const sid = 'docs/results/2026-12-07-softlab-two-hosts-sid';
    await cp(join(REPO, sid), join(results, 'bundle-and-stray'), { recursive: true });
    await cp(join(EXAMPLE, 'reports/summary.txt'), join(results, 'bundle-and-stray/summary.txt'));
    await cp(join(REPO, sid), join(results, 'bundle-alone'), { recursive: true });
    const published = await publishedResults(root);
    t.deepEqual(
      published.map((p) => p.dir),
      ['docs/results/bundle-alone', 'docs/results/bundle-and-stray', 'docs/results/records-only', 'docs/results/reports-only'],
    );
    const problems = await Promise.all(published.map((p) => unverifiable(root, p)));
    t.deepEqual(problems[0], [], 'a bundle alone verifies');
    t.deepEqual(problems[1], ['docs/results/bundle-and-stray/summary.txt: states figures that no verified run directory or bundle holds']);
    t.is(problems[2].length, 1);
    t.regex(problems[2][0], /^docs\/results\/records-only\/run: does not verify \(exit 1\): 0 of 58 migrations recomputed, 116 files missing \(traces\//);
    t.deepEqual(problems[3], [
      'docs/results/reports-only: holds figures (docs/results/reports-only/summary.txt) but no bundle or run directory to re-derive them from: ship its raw data or withdraw it',
    ]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the example run re-derives all 16 migrations and its recorded summary', async (t) => {
  const r = await vdpaBench(['verify', join(REPO, 'docs/examples/lab-in-a-box')]);
  t.is(r.exitCode, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /migrations recomputed +16 of 16/);
  t.regex(r.stdout, /statistics re-derived +\d{3,} figures from reports\/summary\.json, 0 differ/);
});

test('records without their traces (the withdrawn precision run, now a test fixture): verify fails naming every missing trace file', async (t) => {
  const { exitCode, result } = await verifyJson(join(REPO, 'test/fixtures/two-hosts-precision'));
  t.is(exitCode, 1);
  t.false(result.ok);
  t.is(result.migrations.total, 58);
  t.is(result.migrations.recomputed, 0);
  t.is(result.missingFiles.length, 116);
  t.true(result.missingFiles.every((f: string) => /^traces\/\d{4}-.*\.log$/.test(f)));
  t.deepEqual(result.mismatches, []);
});
