/**
 * `vdpa-bench bundle`: a run directory as one .tar.gz a reviewer can check with `vdpa-bench
 * verify`: every file of the run (records, manifest, traces, consoles, probe logs), the reports,
 * the profile text, which harness made the bundle, and a SHA-256 list of everything inside. The
 * same run directory and reports give the same bytes (tar.ts).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { execa } from 'execa';
import { summarizeRun } from '../report/index.ts';
import { EXPORTERS, RENDERERS } from '../report/export/exporters.ts';
import { REPO_ROOT } from '../root.ts';
import { ITERATIONS_FILE, readManifest } from '../results/store.ts';
import { TOOL_VERSION } from '../version.ts';
import { listFiles } from './files.ts';
import { writeTarGz, type TarEntry } from './tar.ts';

export const BUNDLE_FORMAT = 'vdpa-bench/bundle@1';
export const CHECKSUMS_FILE = 'SHA256SUMS';
export const BUNDLE_INFO = 'bundle/info.json';
export const REPORT_DIR = 'reports';
/** The report files a bundle carries when the run's own are found (their exporters name them). */
export const REPORT_NAMES = (['json', 'text', 'md', 'html'] as const).map((format) => EXPORTERS[format].file);

export interface BundleOptions {
  /** Directory of the run's recorded reports (default: <run>/reports, or the parent when its summary.json is this run's). */
  reports?: string;
  progress?: (line: string) => void;
}

export interface BundleOutcome {
  bytes: Buffer;
  runId: string;
  files: number;
  inputBytes: number;
  reports: 'recorded' | 'made by this bundle';
  reportsFrom?: string;
}

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The run's recorded reports: an explicit directory, <run>/reports, or the run's parent when that holds this run's summary.json (docs/results/…). */
export async function findRecordedReports(runDir: string, runId: string, explicit?: string): Promise<string | null> {
  const candidates = explicit ? [explicit] : [join(runDir, REPORT_DIR), dirname(runDir)];
  for (const dir of candidates) {
    const text = await readFile(join(dir, 'summary.json'), 'utf8').catch(() => null);
    if (text === null) {
      if (explicit) throw new Error(`--reports ${explicit}: no summary.json there`);
      continue;
    }
    const ids = (JSON.parse(text) as { runs?: { runId?: string }[] }).runs?.map((r) => r.runId) ?? [];
    if (ids.length === 1 && ids[0] === runId) return dir;
    if (explicit) throw new Error(`--reports ${explicit}: its summary.json is of ${ids.join(', ') || 'no run'}, not ${runId}`);
  }
  return null;
}

async function harnessCommit(): Promise<string | null> {
  const result = await execa('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT.pathname, reject: false });
  return result.exitCode === 0 ? String(result.stdout).trim() : null;
}

async function reportEntries(runDir: string, reportsDir: string | null): Promise<{ name: string; data: Buffer }[]> {
  if (reportsDir) {
    const entries = [];
    for (const name of REPORT_NAMES) {
      const data = await readFile(join(reportsDir, name)).catch(() => null);
      if (data) entries.push({ name: `${REPORT_DIR}/${name}`, data });
    }
    return entries;
  }
  const summary = await summarizeRun(runDir);
  const made = [];
  for (const format of ['json', 'text', 'md'] as const)
    made.push({ name: `${REPORT_DIR}/${EXPORTERS[format].file}`, data: Buffer.from(await RENDERERS[format](summary)) });
  return made;
}

export async function bundleRun(runDir: string, options: BundleOptions = {}): Promise<BundleOutcome> {
  const manifest = await readManifest(runDir);
  const runId = manifest?.runId ?? basename(runDir);
  // an extracted bundle bundles again to the same archive: its checksum list and bundle/ files are made anew
  const files = (await listFiles(runDir)).filter((f) => f !== CHECKSUMS_FILE && !f.startsWith('bundle/'));
  if (!files.includes(ITERATIONS_FILE)) throw new Error(`${runDir}: no ${ITERATIONS_FILE} (is this a vdpa-bench run directory?)`);
  const reportsDir = files.some((f) => f.startsWith(`${REPORT_DIR}/`)) ? null : await findRecordedReports(runDir, runId, options.reports);
  const inner: TarEntry[] = [];
  let inputBytes = 0;
  for (const [i, file] of files.entries()) {
    const data = await readFile(join(runDir, file));
    inputBytes += data.length;
    inner.push({ name: file, data });
    if (options.progress && (i + 1) % 200 === 0) options.progress(`bundle: read ${i + 1}/${files.length} files, ${(inputBytes / 1e6).toFixed(1)} MB`);
  }
  const hasReports = files.some((f) => f.startsWith(`${REPORT_DIR}/`));
  if (!hasReports) inner.push(...(await reportEntries(runDir, reportsDir)));
  if (manifest?.profile?.text) inner.push({ name: 'bundle/profile.yaml', data: Buffer.from(manifest.profile.text) });
  const reports = hasReports || reportsDir ? 'recorded' : 'made by this bundle';
  const info = {
    format: BUNDLE_FORMAT,
    runId,
    madeBy: { name: 'vdpa-bench', version: TOOL_VERSION, gitCommit: await harnessCommit() },
    run: { files: files.length, bytes: inputBytes },
    reports: reports === 'recorded' ? 'recorded by the run (copied)' : `made when bundling, by vdpa-bench ${TOOL_VERSION}`,
  };
  inner.push({ name: BUNDLE_INFO, data: Buffer.from(JSON.stringify(info, null, 2) + '\n') });
  inner.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const sums = inner.map((e) => `${sha256(e.data)}  ${e.name}\n`).join('');
  const entries = [...inner, { name: CHECKSUMS_FILE, data: Buffer.from(sums) }].map((e) => ({ ...e, name: `${runId}/${e.name}` }));
  options.progress?.(`bundle: compressing ${entries.length} files, ${(inputBytes / 1e6).toFixed(1)} MB`);
  return { bytes: writeTarGz(entries), runId, files: entries.length, inputBytes, reports, ...(reportsDir ? { reportsFrom: reportsDir } : {}) };
}
