/** The `bundle` and `verify` subcommands: a run's raw data as one archive, and the check that it still gives the published numbers. */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import type { VerifyResult } from '../verify/verify.ts';
import type { Out } from './options.ts';
import { UsageError } from './usage-error.ts';

const SHOWN_MISMATCHES = 10;

export function addVerifyCommands(program: Command, out: Out, setExit: (code: number) => void): void {
  addBundleCommand(program, out);
  addVerifyCommand(program, out, setExit);
}

function addBundleCommand(program: Command, out: Out): void {
  program
    .command('bundle')
    .description('Pack a run directory into one deterministic .tar.gz: records, manifest, traces, consoles, probe logs, reports, profile, SHA-256 list')
    .argument('<run-dir>', 'a results directory written by run')
    .option('-o, --out <file>', 'archive to write (default: <run-id>.tar.gz in the current directory)')
    .option(
      '--reports <dir>',
      "the run's recorded reports (default: <run-dir>/reports/, or the run's parent when its summary.json is this run's; else they are made now)",
    )
    .addHelpText(
      'after',
      `
The archive holds one directory, <run-id>/, with every file of the run directory as it is,
reports/ (summary.json, summary.txt, report.md, report.html as recorded; without recorded reports,
summary.json, summary.txt and report.md made now and labelled so), bundle/profile.yaml (the
profile text from the manifest), bundle/info.json (which vdpa-bench version and commit bundled it)
and SHA256SUMS (\`sha256sum -c SHA256SUMS\` checks it). Entries are sorted, with fixed owner, mode
and time, so the same run directory gives the same bytes. Read it with \`tar xzf\` or directly
with \`vdpa-bench verify <file>\`. See docs/verify.md.

Example:
  vdpa-bench bundle results/lab-in-a-box-20261207-113203-ab12 -o lab.tar.gz && vdpa-bench verify lab.tar.gz`,
    )
    .action(async (runDir, opts) => {
      const { bundleRun } = await import('../verify/bundle.ts');
      const outcome = await bundleRun(runDir, { reports: opts.reports, progress: (line) => out.stderr(line + '\n') }).catch((error: Error) => {
        throw new UsageError(error.message);
      });
      const file = resolve(opts.out ?? `${outcome.runId}.tar.gz`);
      await writeFile(file, outcome.bytes);
      out.stderr(
        `${outcome.files} files, ${(outcome.inputBytes / 1e6).toFixed(2)} MB of run data → ${(outcome.bytes.length / 1e6).toFixed(2)} MB; reports ${outcome.reports}${outcome.reportsFrom ? ` (${outcome.reportsFrom})` : ''}\n`,
      );
      out.stdout(file + '\n');
    });
}

function addVerifyCommand(program: Command, out: Out, setExit: (code: number) => void): void {
  program
    .command('verify')
    .description('Re-derive a run from its raw data: metrics from traces and probe logs, statistics and seed-form lines from the records, every checksum')
    .argument('<bundle-or-run-dir>', 'a .tar.gz from bundle, an extracted bundle, or a run directory')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Per migration, every trace metric is recomputed from its two trace files (its recorded windows
and clock offset) and the network metrics from probes/NNNN.txt, and compared with the record
exactly; where the record names the part of each trace it read (traceRanges) the file's size,
lines and SHA-256 are checked too. The recorded summary.json (reports/ in a bundle, or beside the
run directory) is rebuilt from the records and compared figure by figure, summary.txt (the
seed-form lines) line by line. A bundle's SHA256SUMS is checked for every file.

Exit status 0 only when everything matches; 1 when anything differs or a file is missing (the
table names which); 2 when the target is not a run or a bundle.

Examples:
  vdpa-bench verify docs/examples/lab-in-a-box          # the shipped example run directory
  vdpa-bench verify docs/results/2026-12-07-softlab-two-hosts-sid/softlab-two-hosts-20261207-204355-618c.tar.gz   # a shipped bundle
  vdpa-bench verify results/local-20250721-180000-ab12`,
    )
    .action(async (target, opts) => {
      const { verifyTarget } = await import('../verify/verify.ts');
      const result = await verifyTarget(target).catch((error: NodeJS.ErrnoException) => {
        throw new UsageError(`${target}: ${error.code === 'ENOENT' ? 'no such file or directory' : error.message}`);
      });
      out.stdout(opts.json ? JSON.stringify(result, null, 2) + '\n' : verifyTable(result));
      if (!result.ok) setExit(1);
    });
}

function checksumLine(c: VerifyResult['checksums']): string {
  if (!c) return 'not a bundle (no SHA256SUMS)';
  const problems = [...c.bad.map((f) => `${f} changed`), ...c.missing.map((f) => `${f} missing`), ...c.unlisted.map((f) => `${f} not listed`)];
  return problems.length ? `${problems.length} of ${c.listed} wrong: ${problems.slice(0, 5).join(', ')}` : `${c.listed} files, all match`;
}

/** The result as a table a reviewer reads top to bottom: what was checked, then what did not match. */
export function verifyTable(r: VerifyResult): string {
  const m = r.migrations;
  const stats =
    'unchecked' in r.statistics
      ? `not checked: ${r.statistics.unchecked}`
      : `${r.statistics.figures} figures from ${r.statistics.from}, ${r.statistics.differences.length} differ`;
  const seed =
    'unchecked' in r.seedLines
      ? `not checked: ${r.seedLines.unchecked}`
      : `${r.seedLines.lines} seed-form lines, ${r.seedLines.differences.length} summary.txt lines differ`;
  const rows: [string, string][] = [
    ['run', `${r.runId} (${r.target})`],
    ['checksums', checksumLine(r.checksums)],
    ['migrations recomputed', `${m.recomputed} of ${m.total}${m.notMeasured ? ` (${m.notMeasured} without traces: failed, nothing to recompute)` : ''}`],
    ['metric mismatches', String(r.mismatches.length)],
    [
      'missing files',
      r.missingFiles.length ? `${r.missingFiles.length}: ${r.missingFiles.slice(0, 4).join(', ')}${r.missingFiles.length > 4 ? ', …' : ''}` : '0',
    ],
    ['statistics re-derived', stats],
    ['summary.txt', seed],
  ];
  const lines = rows.map(([k, v]) => `${k.padEnd(22)} ${v}`);
  if (r.mismatches.length) {
    lines.push(
      '',
      'mismatches (first ' + Math.min(SHOWN_MISMATCHES, r.mismatches.length) + '):',
      `  ${'seq'.padStart(4)}  ${'metric'.padEnd(28)} recorded → recomputed`,
    );
    for (const x of r.mismatches.slice(0, SHOWN_MISMATCHES))
      lines.push(`  ${String(x.seq).padStart(4)}  ${x.metric.padEnd(28)} ${x.recorded} → ${x.recomputed}`);
  }
  const differences = [...('differences' in r.statistics ? r.statistics.differences : []), ...('differences' in r.seedLines ? r.seedLines.differences : [])];
  if (differences.length) lines.push('', 'statistics that differ (first 5):', ...differences.slice(0, 5).map((d) => `  ${d}`));
  if (r.missingFiles.length > 4) lines.push('', 'missing files:', ...r.missingFiles.map((f) => `  ${f}`));
  if (r.notes.length) lines.push('', ...r.notes.map((n) => `note: ${n}`));
  const unchecked = 'unchecked' in r.statistics ? ' (no recorded statistics to re-derive)' : '';
  lines.push('', r.ok ? `verified: every recorded figure re-derived from the raw data${unchecked}` : 'NOT verified: see above');
  return lines.join('\n') + '\n';
}
