/**
 * `vdpa-bench verify`: a run directory, an extracted bundle or the .tar.gz itself against its own
 * raw data. Every checksum of the bundle, every metric of every migration recomputed from its
 * traces and probe logs, every figure and verdict of the recorded summary.json and the seed-form
 * lines of summary.txt re-derived from the records. Anything that does not match, or cannot be
 * checked because a file is missing, makes the result not ok.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { loadRun } from '../report/load.ts';
import { reportSettings } from '../report/model/settings.ts';
import { buildSummary } from '../report/model/summary.ts';
import { renderText } from '../report/export/text.ts';
import { sha256, CHECKSUMS_FILE, findRecordedReports } from './bundle.ts';
import { checkMigration, type Mismatch } from './recompute.ts';
import { metricSettings } from './settings.ts';
import { compareJson } from './compare-json.ts';
import { listFiles } from './files.ts';
import { readTar } from './tar.ts';

export interface VerifyResult {
  target: string;
  runId: string;
  checksums: { listed: number; bad: string[]; missing: string[]; unlisted: string[] } | null;
  migrations: { total: number; recomputed: number; notMeasured: number };
  mismatches: Mismatch[];
  missingFiles: string[];
  statistics: { from: string; figures: number; differences: string[] } | { unchecked: string };
  seedLines: { lines: number; differences: string[] } | { unchecked: string };
  notes: string[];
  ok: boolean;
}

/** A .tar.gz is extracted to a temporary directory first (removed afterwards), so both are read by the same code. */
export async function verifyTarget(target: string): Promise<VerifyResult> {
  if ((await stat(target)).isDirectory()) return verifyRunDir(target, target);
  const entries = readTar(await readFile(target));
  const tops = new Set(entries.map((e) => e.name.split('/')[0]));
  const scratch = await mkdtemp(join(tmpdir(), 'vdpa-bench-verify-'));
  try {
    for (const entry of entries) {
      if (entry.name.split('/').includes('..') || entry.name.startsWith('/')) throw new Error(`${target}: unsafe path in the archive: ${entry.name}`);
      await mkdir(dirname(join(scratch, entry.name)), { recursive: true });
      await writeFile(join(scratch, entry.name), entry.data);
    }
    const runDir = tops.size === 1 && entries.every((e) => e.name.includes('/')) ? join(scratch, [...tops][0]) : scratch;
    return await verifyRunDir(runDir, target);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function checkSums(dir: string): Promise<VerifyResult['checksums']> {
  const text = await readFile(join(dir, CHECKSUMS_FILE), 'utf8').catch(() => null);
  if (text === null) return null;
  const present = new Set((await listFiles(dir)).filter((f) => f !== CHECKSUMS_FILE));
  const result = { listed: 0, bad: [] as string[], missing: [] as string[], unlisted: [] as string[] };
  for (const line of text.split('\n').filter(Boolean)) {
    const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!match) throw new Error(`${CHECKSUMS_FILE}: not a sha256sum line: ${line.slice(0, 80)}`);
    result.listed++;
    const data = await readFile(join(dir, match[2])).catch(() => null);
    present.delete(match[2]);
    if (data === null) result.missing.push(match[2]);
    else if (sha256(data) !== match[1]) result.bad.push(match[2]);
  }
  result.unlisted = [...present];
  return result;
}

export async function verifyRunDir(dir: string, target: string): Promise<VerifyResult> {
  const checksums = await checkSums(dir);
  const run = await loadRun(dir);
  const settings = metricSettings(run.manifest, run.records);
  const result: VerifyResult = {
    target,
    runId: run.runId,
    checksums,
    migrations: { total: run.records.length, recomputed: 0, notMeasured: 0 },
    mismatches: [],
    missingFiles: [...(checksums?.missing ?? [])],
    statistics: { unchecked: '' },
    seedLines: { unchecked: '' },
    notes: [...settings.notes],
    ok: false,
  };
  const notesSeen = new Set<string>();
  for (const record of run.records) {
    const check = await checkMigration(dir, record, settings);
    if (check.recomputed) result.migrations.recomputed++;
    else if (check.missing.length === 0) result.migrations.notMeasured++;
    result.mismatches.push(...check.mismatches);
    result.missingFiles.push(...check.missing.filter((m) => !result.missingFiles.includes(m)));
    // the same note for every record of an older run is said once, with how many it concerns
    for (const note of check.notes) notesSeen.add(note.replace(/^seq \d+: /, ''));
  }
  result.notes.push(...[...notesSeen].map((n) => `every record or some: ${n}`));
  await rederiveReports(dir, run, result);
  result.ok =
    result.mismatches.length === 0 &&
    result.missingFiles.length === 0 &&
    (checksums === null || (checksums.bad.length === 0 && checksums.unlisted.length === 0)) &&
    !('differences' in result.statistics && result.statistics.differences.length > 0) &&
    !('differences' in result.seedLines && result.seedLines.differences.length > 0);
  return result;
}

/** summary.json and summary.txt as this harness makes them from the records, against the recorded ones. */
async function rederiveReports(dir: string, run: Awaited<ReturnType<typeof loadRun>>, result: VerifyResult): Promise<void> {
  const reportsDir = await findRecordedReports(dir, run.runId);
  if (!reportsDir) {
    result.statistics = { unchecked: 'no recorded summary.json (in <run>/reports/ or beside the run directory)' };
    result.seedLines = { unchecked: 'no recorded summary.txt' };
    return;
  }
  const summary = buildSummary({ runs: [run], settings: reportSettings(run.manifest), records: run.records });
  const recorded = JSON.parse(await readFile(join(reportsDir, 'summary.json'), 'utf8')) as unknown;
  const rederived = JSON.parse(JSON.stringify(summary)) as unknown;
  // where the run directory was when the report was made is not a figure
  const { figures, differences } = compareJson(recorded, rederived, (path) => /^runs\.\d+\.dir$/.test(path));
  // inside the run or bundle: its place there (an archive is read from a temporary directory)
  const inside = relative(dir, join(reportsDir, 'summary.json'));
  const from = inside.startsWith('..') ? join(reportsDir, 'summary.json') : inside;
  result.statistics = { from, figures, differences };
  const text = await readFile(join(reportsDir, 'summary.txt'), 'utf8').catch(() => null);
  if (text === null) {
    result.seedLines = { unchecked: `no summary.txt beside ${from}` };
    return;
  }
  const mine = renderText(summary).split('\n');
  const theirs = text.split('\n');
  const differencesText: string[] = [];
  for (let i = 0; i < Math.max(mine.length, theirs.length); i++)
    if (mine[i] !== theirs[i])
      differencesText.push(`summary.txt line ${i + 1}: recorded ${JSON.stringify(theirs[i] ?? '')}, re-derived ${JSON.stringify(mine[i] ?? '')}`);
  result.seedLines = { lines: theirs.filter((l) => l.startsWith('- ')).length, differences: differencesText };
}
