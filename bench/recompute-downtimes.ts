/**
 * Every `ok` migration of a run, recomputed from its own two trace files with the clock offset the
 * run recorded for it, through the CLI a lab engineer would use (`vdpa-bench downtime
 * --clock-offset-us`), and compared with the recorded vdpa figure. Exit status 1 on any mismatch.
 * Run: npx tsx bench/recompute-downtimes.ts <run-dir> [<run-dir> ...]
 */
import { join } from 'node:path';
import { execa } from 'execa';
import { recomputeDowntimeArgs } from '../harness/cli/recompute-args.ts';
import { readIterations } from '../harness/results/store.ts';

const REPO = new URL('..', import.meta.url).pathname;
let checked = 0;
let mismatches = 0;
for (const runDir of process.argv.slice(2)) {
  const { records } = await readIterations(runDir);
  for (const r of records.filter((x) => x.status === 'ok' && typeof x.metrics.vdpa === 'number')) {
    // a cross-host span without its recorded offset cannot be recomputed: say so, never assume 0
    const args = recomputeDowntimeArgs(runDir, r, 'vdpa');
    if (!args || !r.clock) {
      checked++;
      mismatches++;
      console.log(`DIFF ${runDir.split('/').pop()} #${r.seq} ${r.variant} ${r.vmSize}: no clock offset recorded, so its span cannot be recomputed`);
      continue;
    }
    const offset = r.clock.offsetUs;
    const result = await execa(join(REPO, 'bin/vdpa-bench.js'), args, { reject: false });
    const recomputedMs = result.exitCode === 0 ? (JSON.parse(String(result.stdout)) as { downtimeMs: number }).downtimeMs : NaN;
    const same = Math.abs(recomputedMs - r.metrics.vdpa!) < 0.0005;
    checked++;
    if (!same) mismatches++;
    console.log(
      `${same ? 'ok  ' : 'DIFF'} ${runDir.split('/').pop()} #${r.seq} ${r.variant} ${r.vmSize} ${r.from}→${r.to} offset ${offset} ± ${r.clock.uncertaintyUs} µs: recorded ${r.metrics.vdpa!.toFixed(3)} ms, recomputed ${Number.isNaN(recomputedMs) ? String(result.stderr).trim() : `${recomputedMs.toFixed(3)} ms`}`,
    );
  }
}
console.log(`${checked} ok migrations recomputed from their traces with the recorded clock offset: ${mismatches} mismatches`);
process.exitCode = mismatches > 0 || checked === 0 ? 1 : 0;
