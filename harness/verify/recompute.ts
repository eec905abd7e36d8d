/**
 * One recorded migration against its raw data: every trace metric recomputed from the two trace
 * files with the recorded windows and clock offset, exactly as the engine computed it
 * (metrics/analyse.ts), and the network metrics from the probe log (metrics/network.ts).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { analyseParsed, analysisEvents } from '../metrics/analyse.ts';
import { networkDowntime, parseProbeLog, PROBE_DIR, probeLogName } from '../metrics/network.ts';
import { parseDuration } from '../profile/size.ts';
import type { MetricRule } from '../profile/schema.ts';
import type { IterationRecord } from '../results/types.ts';
import { scanTraceFile } from '../traces/read.ts';
import { traceRange, type TraceRange } from '../traces/range.ts';

/** What the run's profile says about its metrics (run/selection.ts's metricSetup, plus the prober's settings). */
export interface MetricSettings {
  rules: Readonly<Record<string, MetricRule>>;
  /** Metrics computed from traces. */
  traceNames: string[];
  primary: string;
  /** Network metrics, from probes/NNNN.txt; absent when the run had no prober. */
  probe?: { replyTimeout: string | number; maxStrayLoss: number };
}

export interface Mismatch {
  seq: number;
  metric: string;
  recorded: string;
  recomputed: string;
}

export interface MigrationCheck {
  seq: number;
  /** False when the record has nothing to recompute (a failed migration, no traces taken). */
  recomputed: boolean;
  mismatches: Mismatch[];
  /** Trace or probe files the record names that are not there. */
  missing: string[];
  /** Fields an older record lacks, so that part was not checked. */
  notes: string[];
}

const shown = (v: number | null | undefined) => (v === undefined ? 'absent' : v === null ? 'null' : String(v));

export async function checkMigration(runDir: string, record: IterationRecord, settings: MetricSettings): Promise<MigrationCheck> {
  const check: MigrationCheck = { seq: record.seq, recomputed: false, mismatches: [], missing: [], notes: [] };
  const { source, destination } = record.traces;
  if (!source && !destination) {
    if (record.status === 'ok') check.missing.push(`seq ${record.seq}: the record names no trace files`);
    return check;
  }
  const paths = { source: join(runDir, source), destination: join(runDir, destination) };
  for (const [side, path] of Object.entries(paths)) {
    const present = await stat(path).then(
      (s) => s.isFile(),
      () => false,
    );
    if (!present) check.missing.push(record.traces[side as 'source' | 'destination'] || `seq ${record.seq}: no ${side} trace named`);
  }
  // the probe logs are checked whether or not the traces are there: they are the network metrics' raw data
  if (settings.probe) await checkNetwork(runDir, record, settings.probe, check);
  if (check.missing.length) return check;
  await checkRanges(runDir, record, check);
  if (!record.clock) check.notes.push(`seq ${record.seq}: no clock field: recomputed with a clock offset of 0 µs`);
  const wanted = analysisEvents(settings.rules, settings.traceNames, record.queuePairs);
  const analysis = analyseParsed({
    source: await scanTraceFile(paths.source, { events: wanted }),
    destination: await scanTraceFile(paths.destination, { events: wanted }),
    rules: settings.rules,
    names: settings.traceNames,
    primary: settings.primary,
    clockOffsetUs: record.clock?.offsetUs ?? 0,
    windows: record.windows,
    queuePairs: record.queuePairs,
    destinationQmpReadyMs: record.destinationQmpReadyMs,
  });
  check.recomputed = true;
  const mismatch = (metric: string, recorded: number | null | undefined, recomputed: number | null | undefined) => {
    if (recorded !== recomputed) check.mismatches.push({ seq: record.seq, metric, recorded: shown(recorded), recomputed: shown(recomputed) });
  };
  for (const name of settings.traceNames) mismatch(name, record.metrics[name], analysis.metrics[name]);
  if (record.status !== 'failed' && settings.primary === record.primaryMetric && settings.traceNames.includes(settings.primary))
    mismatch('downtimeMs', record.status === 'ok' ? record.downtimeMs : null, record.status === 'ok' ? analysis.downtimeMs : null);
  if (record.status === 'ok' && analysis.status !== 'ok')
    check.mismatches.push({ seq: record.seq, metric: 'status', recorded: record.status, recomputed: `${analysis.status} (${analysis.reason})` });
  return check;
}

/** The part of each trace file the record says it read: same size, lines and SHA-256 (records before traceRanges existed: noted). */
async function checkRanges(runDir: string, record: IterationRecord, check: MigrationCheck): Promise<void> {
  if (!record.traceRanges) {
    check.notes.push(`seq ${record.seq}: no traceRanges field (written before vdpa-bench recorded it): trace contents checked only by recomputing`);
    return;
  }
  for (const side of ['source', 'destination'] as const) {
    const recorded = record.traceRanges[side];
    if (!recorded) continue;
    const actual: TraceRange = await traceRange(join(runDir, record.traces[side]));
    for (const key of ['bytes', 'lines', 'sha256'] as const) {
      const [a, b] = [JSON.stringify(recorded[key]), JSON.stringify(actual[key])];
      if (a !== b) check.mismatches.push({ seq: record.seq, metric: `${side} trace ${key} (${record.traces[side]})`, recorded: a, recomputed: b });
    }
  }
}

async function checkNetwork(runDir: string, record: IterationRecord, probe: NonNullable<MetricSettings['probe']>, check: MigrationCheck): Promise<void> {
  if (!('network' in record.metrics) && !('network-rx-gap' in record.metrics)) return;
  const file = join(PROBE_DIR, probeLogName(record.seq));
  const text = await readFile(join(runDir, file), 'utf8').catch(() => null);
  if (text === null) {
    check.missing.push(file);
    return;
  }
  let network: number | null = null;
  let rxGap: number | null = null;
  try {
    const downtime = networkDowntime(parseProbeLog(text), parseDuration(probe.replyTimeout) * 1000, probe.maxStrayLoss);
    network = downtime.lostRun?.ms ?? 0;
    rxGap = downtime.rxGap?.ms ?? null;
  } catch {
    // the record then holds null too (hooks.ts): a figure recorded where none can be computed is a mismatch
  }
  const pairs: [string, number | null][] = [
    ['network', network],
    ['network-rx-gap', rxGap],
  ];
  for (const [name, value] of pairs)
    if (name in record.metrics && record.metrics[name] !== value)
      check.mismatches.push({ seq: record.seq, metric: `${name} (${file})`, recorded: shown(record.metrics[name]), recomputed: shown(value) });
}
