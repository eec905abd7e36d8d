/**
 * `npm run bench`: the harness's performance figures, each a ratio against a baseline measured in
 * the same run. Generated files go under the system temp directory and are deleted afterwards.
 * Environment: BENCH_TRACE_MB (default "100,1000"), BENCH_ITERATIONS (default 4 per variant),
 * BENCH_VM_SIZE (default 1G), BENCH_REPORT_MIGRATIONS (default 10000), BENCH_RECORDED_RUN (results
 * directory whose migrations the report benchmark repeats; default this run's), BENCH_ONLY (comma
 * list of overhead,traces,report,adaptive).
 */
import { cpus, totalmem } from 'node:os';
import { readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readIterations } from '../harness/results/store.ts';
import { benchAdaptive } from './adaptive.ts';
import { say } from './common.ts';
import { benchOverhead } from './overhead.ts';
import { benchReport } from './report.ts';
import { benchTraces } from './traces.ts';

const only = new Set((process.env.BENCH_ONLY ?? 'overhead,traces,report,adaptive').split(','));
const started = Date.now();
say(`vdpa-bench benchmarks, ${new Date().toISOString()}`);
say(
  `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, load average ${(
    await import('node:os')
  )
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
say();

let failures = 0;
const section = async (name: string, body: () => Promise<void>) => {
  if (!only.has(name)) return;
  try {
    await body();
  } catch (error) {
    failures++;
    say(`${name}: COULD NOT BE MEASURED: ${(error as Error).message}`);
  }
  say();
};

let overhead: Awaited<ReturnType<typeof benchOverhead>> | undefined;
await section('overhead', async () => {
  overhead = await benchOverhead({ iterations: Number(process.env.BENCH_ITERATIONS ?? 4), vmSize: process.env.BENCH_VM_SIZE ?? '1G' });
});
await section('traces', async () => {
  const sizes = (process.env.BENCH_TRACE_MB ?? '100,1000').split(',').map((s) => Number(s) * 1e6);
  await benchTraces(sizes, 3);
});
await section('report', async () => {
  // recorded migrations to repeat: this run's local lab, or BENCH_RECORDED_RUN (a results directory)
  const recordedDir = process.env.BENCH_RECORDED_RUN ?? overhead?.runDir;
  if (!recordedDir) throw new Error('needs recorded migrations: include overhead in BENCH_ONLY or set BENCH_RECORDED_RUN');
  const records = overhead && !process.env.BENCH_RECORDED_RUN ? overhead.records : (await readIterations(recordedDir)).records;
  await benchReport(records, recordedDir, Number(process.env.BENCH_REPORT_MIGRATIONS ?? 10000));
});
await section('adaptive', async () => {
  // each cell's downtimes divided by its median: the noise shape, pooled across cells. Sources:
  // this run's local lab (if measured) and a recorded lab-in-a-box run shipped in bench/data.
  const cells = new Map<string, number[]>();
  for (const r of overhead?.records ?? [])
    if (!r.warmup && r.status === 'ok' && r.downtimeMs !== null)
      cells.set(`this run: ${r.variant}`, [...(cells.get(`this run: ${r.variant}`) ?? []), r.downtimeMs]);
  const recorded = JSON.parse(await readFile(new URL('./data/lab-in-a-box-downtimes.json', import.meta.url), 'utf8')) as {
    runId: string;
    cells: Record<string, number[]>;
  };
  for (const [cell, values] of Object.entries(recorded.cells)) cells.set(`${recorded.runId}: ${cell}`, values);
  const pooled = [...cells.values()]
    .filter((values) => values.length >= 3)
    .flatMap((values) => {
      // the lower median: a recorded value, so every cell holds exactly 100
      const m = [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
      return values.map((v) => (v / m) * 100);
    });
  const sources = `${overhead ? "this run's local lab and " : ''}recorded run ${recorded.runId} (${Object.keys(recorded.cells).length} cells), each cell scaled to a median of 100`;
  benchAdaptive(pooled, sources, { medianCiHalfWidthPct: 25, minIterations: 8, maxIterations: 300 });
});
if (overhead) await rm(dirname(overhead.runDir), { recursive: true, force: true });
say(`benchmarks took ${((Date.now() - started) / 1000).toFixed(0)} s${failures ? `; ${failures} could not be measured` : ''}`);
process.exitCode = failures ? 1 : 0;
