/**
 * Harness overhead per migration on the local lab: the wall time from one migration's start
 * (destination launch) to the next one's, against what QEMU itself spent: the source's
 * total-time plus the destination's start-up (spawn → QMP greeting). The destination's own
 * completion after the source's (QEMU's timestamps of the two MIGRATION completed events) is
 * QEMU's work too and is shown apart, not counted as the harness's.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProgressSink } from '../harness/migration/interfaces.ts';
import { runBenchmark } from '../harness/run/run.ts';
import { loadProfile } from '../harness/profile/load.ts';
import type { IterationRecord } from '../harness/results/types.ts';
import { fmt, median, REPO, say } from './common.ts';

export interface OverheadResult {
  runDir: string;
  records: IterationRecord[];
  ratio: number;
  harnessPct: number;
  intervals: number;
}

const quiet: ProgressSink = { blockStarted() {}, migrationDone() {}, note() {} };

export async function benchOverhead(options: { iterations: number; vmSize: string }): Promise<OverheadResult> {
  const loaded = await loadProfile(join(REPO, 'profiles/local.yaml'));
  const outDir = await mkdtemp(join(tmpdir(), 'vdpa-bench-perf-run-'));
  const outcome = await runBenchmark(loaded, {
    iterations: options.iterations,
    warmup: 1,
    vmSizes: [options.vmSize],
    outDir,
    progress: quiet,
    command: ['bench'],
  });
  const rows: { interval: number; qemu: number; tail: number }[] = [];
  const records = outcome.records;
  for (let i = 0; i + 1 < records.length; i++) {
    const r = records[i];
    const next = records[i + 1];
    if (r.block !== next.block || r.status !== 'ok' || !r.qmp?.totalTimeMs || r.destinationQmpReadyMs === null) continue;
    const interval = Date.parse(next.startedAt) - Date.parse(r.startedAt);
    const srcDone = r.windows?.source.toUs;
    const dstDone = r.windows?.destination.toUs;
    const tail = srcDone !== undefined && dstDone !== undefined ? Math.max(0, (dstDone - srcDone) / 1000) : 0;
    rows.push({ interval, qemu: r.qmp.totalTimeMs + r.destinationQmpReadyMs, tail });
  }
  if (rows.length === 0) throw new Error(`no back-to-back pair of successful migrations in ${outcome.dir}: cannot measure the overhead`);
  const sum = (k: keyof (typeof rows)[0]) => rows.reduce((s, r) => s + r[k], 0);
  const ratio = sum('interval') / sum('qemu');
  const harnessMs = sum('interval') - sum('qemu') - sum('tail');
  const harnessPct = (harnessMs / sum('qemu')) * 100;
  say(`harness overhead (local lab, ${options.vmSize} guest, ${records.length} migrations, ${rows.length} back-to-back intervals)`);
  say(`  cycle wall time (start to next start), median      ${fmt(median(rows.map((r) => r.interval)), 0)} ms`);
  say(`  QEMU total-time + destination start-up, median      ${fmt(median(rows.map((r) => r.qemu)), 0)} ms`);
  say(`  destination completing after the source, median     ${fmt(median(rows.map((r) => r.tail)), 0)} ms  (QEMU's own timestamps)`);
  say(`  RATIO cycle / (total-time + start-up)               ${fmt(ratio, 3)}`);
  say(`  RATIO harness share (cycle - QEMU - dest. tail) / (total-time + start-up)  ${fmt(harnessPct, 1)} %  (target < 10 %, aim 5 %)`);
  return { runDir: outcome.dir, records, ratio, harnessPct, intervals: rows.length };
}
