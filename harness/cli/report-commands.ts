/** The `report` and `compare` subcommands, and the reports `run` writes when it finishes. */
import { InvalidArgumentError, type Command } from '@commander-js/extra-typings';
import { relative } from 'node:path';
import { REPORT_FORMATS, type ReportFormat } from '../report/export/formats.ts';
import type { ReportOutcome } from '../report/index.ts';
import type { Out } from './options.ts';

// The renderers (Vega, Vega-Lite) take most of a second to load: only commands that report pay it.
const renderers = () => import('../report/index.ts');

const format = (value: string, previous: ReportFormat[] = []): ReportFormat[] => {
  if (!(REPORT_FORMATS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${REPORT_FORMATS.join(', ')}`);
  return [...previous, value as ReportFormat];
};

const shown = (path: string) => (relative(process.cwd(), path).startsWith('..') ? path : relative(process.cwd(), path) || '.');

function printOutcome(outcome: ReportOutcome, out: Out): void {
  out.stdout(outcome.text);
  for (const [kind, path] of Object.entries(outcome.files)) out.stderr(`wrote ${kind.padEnd(4)} ${shown(path)}\n`);
}

/** `report` (one run) and `compare` (two runs). */
export function addReportCommands(program: Command, out: Out): void {
  program
    .command('report')
    .description('Statistics and reports of a results directory: text summary, Markdown, self-contained HTML with charts, summary.json')
    .argument('<run-dir>', 'a run directory (only iterations.ndjson is required; what manifest.json lacks shows as unknown)')
    .option('-f, --format <format>', `${REPORT_FORMATS.join('|')} (repeatable; default all but png, which needs headless Chromium)`, format)
    .option('-o, --out <dir>', 'directory for the report files (default reports/<run-id>/)')
    .addHelpText(
      'after',
      `
Files: summary.txt (the cover-letter lines), report.md, report.html (one file, opens offline),
summary.json (every number). The text summary is also printed.

Statistics are over measured (non-warm-up) ok migrations of each cell (variant × VM size × queue
pairs). Before/after uses the profile's compare: {baseline, candidate} (default: the first two
variants) and needs p < 0.05 (Mann–Whitney) and a change above compare.noiseThresholdPct.

Examples:
  vdpa-bench report results/local-20250721-180000-ab12
  vdpa-bench report results/local-20250721-180000-ab12 --format text --format json --out /tmp/r`,
    )
    .action(async (runDir, opts) => {
      printOutcome(await (await renderers()).reportRun(runDir, { formats: opts.format, outDir: opts.out }), out);
    });

  program
    .command('compare')
    .description('Before/after across two runs (measure, patch, measure again): same statistics and report formats as report')
    .argument('<baseline-run-dir>', 'the run before the change')
    .argument('<candidate-run-dir>', 'the run after the change')
    .option('--baseline-variant <name>', "variant of the baseline run to use (default: its only one, or its profile's compare.baseline, or its first)")
    .option('--candidate-variant <name>', "variant of the candidate run to use (default: its only one, or its profile's compare.candidate, or its first)")
    .option('-f, --format <format>', `${REPORT_FORMATS.join('|')} (repeatable; default all but png, which needs headless Chromium)`, format)
    .option('-o, --out <dir>', 'directory for the report files (default reports/compare-<baseline-id>-vs-<candidate-id>/)')
    .action(async (baselineDir, candidateDir, opts) => {
      printOutcome(
        await (
          await renderers()
        ).compareRunDirs(baselineDir, candidateDir, {
          formats: opts.format,
          outDir: opts.out,
          baselineVariant: opts.baselineVariant,
          candidateVariant: opts.candidateVariant,
        }),
        out,
      );
    });
}

/** After `run`: all formats into <reportsRoot>/<run-id>/, the text summary on stderr (stdout's last line stays the run directory). */
export async function writeRunReports(runDir: string, reportsRoot: string, out: Out): Promise<void> {
  try {
    const outcome = await (await renderers()).reportRun(runDir, { reportsRoot });
    out.stderr(`\n${outcome.text}`);
    out.stderr(
      `reports: ${shown(outcome.dir)}/ (${Object.values(outcome.files)
        .map((p) => p.split('/').pop())
        .join(', ')})\n`,
    );
  } catch (error) {
    // The measurements are safe on disk; a report can be made later with `vdpa-bench report`.
    out.stderr(`vdpa-bench: could not write the reports (${(error as Error).message}); run: vdpa-bench report ${runDir}\n`);
  }
}
