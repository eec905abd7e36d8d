/**
 * Entry points for the CLI: a run directory (or two) → report files. The run is read once
 * (load.ts), the report model built once from it (model/), and that one model handed to each
 * format's exporter (export/) and written (write.ts).
 */
import { basename, join } from 'node:path';
import { crossRunSummary, type CrossRunOptions } from './model/compare-runs.ts';
import { loadRun } from './load.ts';
import { reportSettings } from './model/settings.ts';
import { buildSummary } from './model/summary.ts';
import type { Summary } from './model/types.ts';
import { DEFAULT_REPORT_FORMATS, REPORT_FORMATS, type ReportFormat } from './export/formats.ts';
import { renderText } from './export/text.ts';
import { writeReports } from './write.ts';

export { DEFAULT_REPORT_FORMATS, REPORT_FORMATS, type ReportFormat };

export interface ReportOutcome {
  summary: Summary;
  text: string;
  dir: string;
  files: Record<string, string>;
}

export async function summarizeRun(runDir: string): Promise<Summary> {
  const run = await loadRun(runDir);
  return buildSummary({ runs: [run], settings: reportSettings(run.manifest), records: run.records });
}

/** `report`: default all formats into reports/<run-id>/. */
export async function reportRun(
  runDir: string,
  options: { formats?: readonly ReportFormat[]; outDir?: string; reportsRoot?: string } = {},
): Promise<ReportOutcome> {
  const summary = await summarizeRun(runDir);
  const dir = options.outDir ?? join(options.reportsRoot ?? 'reports', summary.runs[0].runId);
  const files = await writeReports(summary, options.formats ?? DEFAULT_REPORT_FORMATS, dir);
  return { summary, text: renderText(summary), dir, files };
}

/** `compare`: default all formats into reports/compare-<baseline-id>-vs-<candidate-id>/. */
export async function compareRunDirs(
  baselineDir: string,
  candidateDir: string,
  options: CrossRunOptions & { formats?: readonly ReportFormat[]; outDir?: string; reportsRoot?: string } = {},
): Promise<ReportOutcome> {
  const [baseline, candidate] = await Promise.all([loadRun(baselineDir), loadRun(candidateDir)]);
  const summary = crossRunSummary(
    { run: baseline, settings: reportSettings(baseline.manifest) },
    { run: candidate, settings: reportSettings(candidate.manifest) },
    options,
  );
  const dir = options.outDir ?? join(options.reportsRoot ?? 'reports', `compare-${basename(baseline.runId)}-vs-${basename(candidate.runId)}`);
  const files = await writeReports(summary, options.formats ?? DEFAULT_REPORT_FORMATS, dir);
  return { summary, text: renderText(summary), dir, files };
}
