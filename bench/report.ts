/**
 * Report generation: a results directory of 10,000 migrations reported in all formats, against
 * reading its iterations file alone. The records are recorded ones (the overhead benchmark's run)
 * repeated with fresh sequence numbers; the report module is another part of the harness and is
 * measured only when it exists on this branch.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readIterations } from '../harness/results/store.ts';
import type { IterationRecord } from '../harness/results/types.ts';
import { BIN, best, fmt, REPO, say } from './common.ts';

export interface ReportResult {
  available: boolean;
  reportS?: number;
  readS?: number;
  ratio?: number;
  cliS?: number;
}

export async function benchReport(recorded: readonly IterationRecord[], recordedDir: string, count: number): Promise<ReportResult> {
  const moduleFile = join(REPO, 'harness/report/index.ts');
  if (!existsSync(moduleFile)) {
    say(`report generation: NOT MEASURED: harness/report is not on this branch (the report module has not landed on main)`);
    return { available: false };
  }
  const usable = recorded.filter((r) => !r.warmup);
  if (usable.length === 0) throw new Error('report benchmark: no recorded measured migrations to build a large run from');
  const dir = await mkdtemp(join(tmpdir(), 'vdpa-bench-perf-report-'));
  try {
    const runDir = join(dir, 'run');
    await mkdir(runDir);
    await copyFile(join(recordedDir, 'manifest.json'), join(runDir, 'manifest.json'));
    const perCell = new Map<string, number>();
    const lines: string[] = [];
    for (let i = 0; i < count; i++) {
      const base = usable[i % usable.length];
      const iteration = (perCell.get(base.variant) ?? 0) + 1;
      perCell.set(base.variant, iteration);
      lines.push(JSON.stringify({ ...base, seq: i + 1, block: Math.floor(i / 50) + 1, iteration }));
    }
    await writeFile(join(runDir, 'iterations.ndjson'), lines.join('\n') + '\n');
    const module = (await import(pathToFileURL(moduleFile).href)) as { reportRun: (dir: string, o: { outDir: string }) => Promise<unknown> };
    let readS = Infinity;
    let reportS = Infinity;
    for (let i = 0; i < 3; i++) {
      let t = performance.now();
      const { records } = await readIterations(runDir);
      if (records.length !== count) throw new Error(`read ${records.length} records, wrote ${count}`);
      readS = Math.min(readS, (performance.now() - t) / 1000);
      t = performance.now();
      await module.reportRun(runDir, { outDir: join(dir, `out-${i}`) });
      reportS = Math.min(reportS, (performance.now() - t) / 1000);
    }
    const cli = await best(1, [process.execPath, BIN, 'report', runDir, '--out', join(dir, 'cli')]);
    if (cli.exitCode !== 0) throw new Error(`vdpa-bench report exited with ${cli.exitCode}`);
    say(`report generation, ${count} migrations, all formats:`);
    say(`  reading iterations.ndjson alone  ${fmt(readS, 3)} s`);
    say(`  reportRun (all formats)          ${fmt(reportS, 3)} s   (whole command incl. start-up: ${fmt(cli.wallS)} s)`);
    say(`  RATIO report / read              ${fmt(reportS / readS, 1)}`);
    return { available: true, reportS, readS, ratio: reportS / readS, cliS: cli.wallS };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
