/**
 * Trace analysis throughput: `vdpa-bench downtime` on generated traces against `grep -c` of the
 * same files in the same run, and the downtime command's peak RSS at two file sizes (flat
 * memory means it does not grow with the file).
 */
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventsNeeded } from '../harness/metrics/rules.ts';
import { BUILTIN_METRICS } from '../harness/profile/metric-rules.ts';
import { scanTraceFile } from '../harness/traces/read.ts';
import { BIN, best, fmt, mb, say } from './common.ts';
import { writeTrace } from './trace-gen.ts';

export interface TraceResult {
  sizes: {
    scanWallS: number;
    scanCpuS: number;
    bytes: number;
    grepS: number;
    downtimeS: number;
    grepCpuS: number;
    downtimeCpuS: number;
    rssMiB: number;
    mixPct: number;
  }[];
  ratio: number;
  cpuRatio: number;
  scanRatio: number;
  scanCpuRatio: number;
}

const END_EVENT = 'vhost_vdpa_set_vring_enable_one';

export async function benchTraces(sizes: number[], repeats: number): Promise<TraceResult> {
  const dir = await mkdtemp(join(tmpdir(), 'vdpa-bench-perf-traces-'));
  const result: TraceResult = { sizes: [], ratio: NaN, cpuRatio: NaN, scanRatio: NaN, scanCpuRatio: NaN };
  try {
    const startup = await measureStartup(dir, repeats);
    for (const bytes of sizes) result.sizes.push(await measureSize(dir, bytes, repeats));
    const largest = result.sizes[result.sizes.length - 1];
    result.ratio = largest.grepS / largest.downtimeS;
    result.cpuRatio = largest.grepCpuS / largest.downtimeCpuS;
    result.scanRatio = largest.grepS / largest.scanWallS;
    result.scanCpuRatio = largest.grepCpuS / largest.scanCpuS;
    say(
      `  RATIO scan throughput / grep -c throughput (${mb(largest.bytes)}): ${fmt(result.scanRatio, 3)} wall, ${fmt(result.scanCpuRatio, 3)} CPU  (target >= 0.25, aim 0.5)`,
    );
    say(
      `  RATIO whole downtime command / grep -c (${mb(largest.bytes)}): ${fmt(result.ratio, 3)} wall, ${fmt(result.cpuRatio, 3)} CPU  (includes ${fmt(startup.wallS)} s wall / ${fmt(startup.cpuS)} s CPU of start-up)`,
    );
    say(`  peak RSS: ${result.sizes.map((s) => `${mb(s.bytes)} -> ${fmt(s.rssMiB, 0)} MiB`).join(', ')}`);
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The command's fixed cost (node, tsx, module loading): downtime on a tiny pair of traces. */
async function measureStartup(dir: string, repeats: number): Promise<{ wallS: number; cpuS: number }> {
  const tinySource = join(dir, 'tiny-source.log');
  const tinyDestination = join(dir, 'tiny-destination.log');
  const tinySrc = await writeTrace(tinySource, { bytes: 4096, side: 'source', seed: 13, iommuPairsPerStart: 4 });
  await writeTrace(tinyDestination, { bytes: 4096, side: 'destination', seed: 14, startUs: tinySrc.lastSuspendUs! + 35_000, iommuPairsPerStart: 4 });
  const startup = await best(repeats, [process.execPath, BIN, 'downtime', '--source', tinySource, '--destination', tinyDestination, '--json']);
  const bareNode = await best(repeats, [process.execPath, '-e', '0']);
  say(`downtime command start-up (4 KB traces): ${fmt(startup.wallS)} s wall, ${fmt(startup.cpuS)} s CPU (node itself: ${fmt(bareNode.wallS)} s wall)`);
  return startup;
}

/**
 * One source trace size: grep -c, the downtime command and its in-process scan on the same files
 * (page cache warm); the command's answer must be the downtime the generator wrote.
 */
async function measureSize(dir: string, bytes: number, repeats: number): Promise<TraceResult['sizes'][number]> {
  const source = join(dir, `source-${bytes}.log`);
  const destination = join(dir, `destination-${bytes}.log`);
  const src = await writeTrace(source, { bytes, side: 'source', seed: 11 });
  const dst = await writeTrace(destination, {
    bytes: 200_000,
    side: 'destination',
    seed: 12,
    startUs: src.lastSuspendUs! + 35_000,
    iommuPairsPerStart: 100,
  });
  const expectedUs = dst.lastEnableUs! - src.lastSuspendUs!;
  const totalBytes = src.bytes + dst.bytes;
  const needed = ['vhost_vdpa_suspend', 'vhost_vdpa_reset_device', END_EVENT, 'vhost_vdpa_set_vring_ready'];
  const neededLines = needed.reduce((n, e) => n + (src.counts[e] ?? 0) + (dst.counts[e] ?? 0), 0);
  const mixPct = (neededLines / (src.lines + dst.lines)) * 100;
  // page cache warm for both contenders
  await execa('cat', [source, destination], { stdout: 'ignore' });
  const grep = await best(repeats, ['grep', '-c', END_EVENT, source, destination]);
  const downtime = await best(repeats, [process.execPath, BIN, 'downtime', '--source', source, '--destination', destination, '--metric', 'vdpa', '--json']);
  if (downtime.exitCode !== 0) throw new Error(`downtime failed on ${source}: ${downtime.stdout}`);
  const answer = JSON.parse(downtime.stdout) as { downtimeUs: number };
  if (answer.downtimeUs !== expectedUs) throw new Error(`downtime says ${answer.downtimeUs} µs, the generator wrote ${expectedUs} µs`);
  const scan = await measureScan([source, destination], repeats);
  const entry = {
    scanWallS: scan.wallS,
    scanCpuS: scan.cpuS,
    bytes: totalBytes,
    grepS: grep.wallS,
    downtimeS: downtime.wallS,
    grepCpuS: grep.cpuS,
    downtimeCpuS: downtime.cpuS,
    rssMiB: downtime.maxRssKiB / 1024,
    mixPct,
  };
  say(
    `trace analysis, ${mb(totalBytes)} (${src.lines + dst.lines} lines, ${fmt(mixPct, 2)} % of them events the vdpa metric needs, ${src.counts['vhost_vdpa_dma_map'] ?? 0} dma_map):`,
  );
  say(`  grep -c ${END_EVENT}   ${fmt(grep.wallS)} s wall (${fmt(totalBytes / 1e6 / grep.wallS, 0)} MB/s), ${fmt(grep.cpuS)} s CPU`);
  say(`  streaming scan (downtime's analysis, in process)  ${fmt(scan.wallS)} s wall (${fmt(totalBytes / 1e6 / scan.wallS, 0)} MB/s), ${fmt(scan.cpuS)} s CPU`);
  say(
    `  vdpa-bench downtime (whole command, incl. start-up) ${fmt(downtime.wallS)} s wall (${fmt(totalBytes / 1e6 / downtime.wallS, 0)} MB/s), ${fmt(downtime.cpuS)} s CPU, peak RSS ${fmt(entry.rssMiB, 0)} MiB, answer ${answer.downtimeUs} µs = generated`,
  );
  await rm(source);
  await rm(destination);
  return entry;
}

/** The command's own analysis path (scanTraceFile with the metric's events), without its start-up: best of `repeats`. */
async function measureScan(files: string[], repeats: number): Promise<{ wallS: number; cpuS: number }> {
  const events = new Set(eventsNeeded([BUILTIN_METRICS.vdpa]));
  let wallS = Infinity;
  let cpuS = Infinity;
  for (let i = 0; i < repeats; i++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const file of files) await scanTraceFile(file, { events });
    const cpu = process.cpuUsage(cpu0);
    wallS = Math.min(wallS, (performance.now() - t0) / 1000);
    cpuS = Math.min(cpuS, (cpu.user + cpu.system) / 1e6);
  }
  return { wallS, cpuS };
}
