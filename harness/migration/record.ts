/**
 * One migration's record: the fields every record has, the traces fetched from both hosts, and
 * for a completed migration the QMP figures and the metrics computed from the traces.
 */
import { join } from 'node:path';
import { analyseParsed, analysisEvents } from '../metrics/analyse.ts';
import type { RunStore } from '../results/store.ts';
import type { StartupTiming } from '../qemu/running.ts';
import type { ClockEstimate, IterationRecord, RecordParts, StartupPart } from '../results/types.ts';
import { traceRange } from '../traces/range.ts';
import { scanTraceFile } from '../traces/read.ts';
import type { EngineHost, EngineOptions, MigrationContribution, MigrationHooks } from './interfaces.ts';
import { logBackendFile } from './launch.ts';
import { MigrationFailure, ramStats, type MigrationTiming } from './migrate.ts';
import type { PlannedMigration } from './schedule.ts';

/** What every record of one migration is built from, whether the migration succeeded or not. */
export interface RecordContext {
  planned: PlannedMigration;
  from: EngineHost;
  to: EngineHost;
  startedAt: Date;
  /** performance.now() when this migration's cycle began (source ready, destination starting). */
  cycleStart: number;
  clock: ClockEstimate;
}

/** The parts of the engine's options a record needs (the trace settings: whether a log-backend companion is kept). */
export type RecordSettings = Pick<EngineOptions, 'store' | 'metrics' | 'accel'> & { profile?: Pick<EngineOptions['profile'], 'trace'> };

/** A migration QEMU completed: its QMP figures and where its traces are on the hosts. */
export interface CompletedMigration {
  timing: MigrationTiming;
  sourceTrace: string;
  destinationTrace: string;
  destinationQmpReadyMs: number;
  /** Start-up of the two processes as QMP showed it (null: not measured, e.g. a QEMU from a test double). */
  startup?: { source: StartupTiming | null; destination: StartupTiming | null };
}

/** Host paths of a migration's two trace files (either may be missing when a process never started). */
export interface TracePaths {
  source?: string;
  destination?: string;
}

export async function fetchTraces(record: IterationRecord, ctx: Pick<RecordContext, 'from' | 'to'>, paths: TracePaths, store: RunStore): Promise<void> {
  const fetchOne = async (host: EngineHost, path: string | undefined, key: 'source' | 'destination') => {
    if (!path) return;
    const relative = join('traces', path.split('/').pop()!);
    try {
      await host.transport.fetchFile(path, join(store.dir, relative));
      record.traces[key] = relative;
    } catch {
      // a process that never started has no trace file; the record already says why it failed
    }
  };
  await Promise.all([fetchOne(ctx.from, paths.source, 'source'), fetchOne(ctx.to, paths.destination, 'destination')]);
}

export async function buildRecord(ctx: RecordContext, migration: CompletedMigration, o: RecordSettings): Promise<IterationRecord> {
  const { timing, destinationQmpReadyMs } = migration;
  const record = baseRecord(ctx, o);
  record.destinationQmpReadyMs = destinationQmpReadyMs;
  await fetchTraces(record, ctx, { source: migration.sourceTrace, destination: migration.destinationTrace }, o.store);
  const trace = o.profile?.trace;
  if (trace?.backend === 'stap' && trace.alsoLog) {
    // the log backend's file of the same migration, beside the capture (kept in the run, never analysed as the record's)
    const companions = { source: logBackendFile(migration.sourceTrace), destination: logBackendFile(migration.destinationTrace) };
    await fetchTraces({ ...record, traces: { source: '', destination: '' } }, ctx, companions, o.store);
  }
  const info = timing.info;
  const ram = ramStats(info?.ram);
  record.qmp = {
    downtimeMs: info?.downtime ?? null,
    totalTimeMs: info?.['total-time'] ?? null,
    setupTimeMs: info?.['setup-time'] ?? null,
    ...(ram ? { ram } : {}),
    ...(timing.port ? { port: timing.port } : {}),
  };
  if (timing.settings) record.migrationSettings = timing.settings;
  record.windows = {
    source: { fromUs: timing.sourceSetup?.timeUs, toUs: timing.sourceCompleted?.timeUs },
    destination: { toUs: timing.destinationCompleted?.timeUs },
  };
  if (timing.sourceSetup && timing.destinationCompleted) {
    record.migrationSpanMs = (timing.destinationCompleted.timeUs - ctx.clock.offsetUs - timing.sourceSetup.timeUs) / 1000;
  }
  // a trace file that vanished (deleted, disk gone) makes the measurement impossible, not failed
  const missing = [
    record.traces.source ? '' : `source trace ${migration.sourceTrace} on ${ctx.from.name}`,
    record.traces.destination ? '' : `destination trace ${migration.destinationTrace} on ${ctx.to.name}`,
  ].filter(Boolean);
  if (missing.length > 0) throw new MigrationFailure(`trace file missing: ${missing.join(', ')}`, 'invalid');
  const queuePairs = ctx.planned.cell.queuePairs;
  const wanted = analysisEvents(o.metrics.rules, o.metrics.names, queuePairs);
  const [sourceFile, destinationFile] = [join(o.store.dir, record.traces.source), join(o.store.dir, record.traces.destination)];
  record.traceRanges = { source: await traceRange(sourceFile), destination: await traceRange(destinationFile) };
  const source = await scanTraceFile(sourceFile, { events: wanted });
  const destination = await scanTraceFile(destinationFile, { events: wanted });
  const analysis = analyseParsed({
    source,
    destination,
    rules: o.metrics.rules,
    names: o.metrics.names,
    primary: o.metrics.primary,
    clockOffsetUs: ctx.clock.offsetUs,
    windows: record.windows,
    queuePairs,
    destinationQmpReadyMs,
  });
  const startup = startupPart(migration);
  const extra = { ...(startup ? { startup } : {}), ...analysis.extra };
  return { ...record, ...analysis, ...(Object.keys(extra).length ? { extra } : {}) };
}

/** `extra.startup`: each process's QMP start-up, and when the destination took migrate-incoming, ms after its spawn. */
export function startupPart(migration: Pick<CompletedMigration, 'startup' | 'timing'>): StartupPart | undefined {
  const destination = migration.startup?.destination;
  if (!destination) return undefined;
  const timing = (t: StartupTiming) => ({ socketAcceptedMs: t.socketAcceptedMs, greetingMs: t.greetingMs, firstAnswerMs: t.firstAnswerMs });
  const incoming = migration.timing.incoming;
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    source: migration.startup?.source ? timing(migration.startup.source) : null,
    destination: timing(destination),
    incomingAcceptedMs: incoming ? round(incoming.answeredAt - destination.spawnedAt) : null,
    incomingLatencyMs: incoming ? round(incoming.answeredAt - incoming.sentAt) : null,
  };
}

/** What a hook is told about the migration besides its record. */
export type HookContext = Omit<Parameters<NonNullable<MigrationHooks['afterMigration']>>[0], 'record'>;

/**
 * The record of the traces completed by the hooks: each returns its contribution (it sees the
 * record of the traces alone, in hook order), and they are composed into the record once.
 */
export async function completeRecord(
  traced: IterationRecord,
  hooks: readonly MigrationHooks[],
  ctx: HookContext,
): Promise<{ record: IterationRecord; rebootGuest: boolean }> {
  const contributions: MigrationContribution[] = [];
  for (const hook of hooks) {
    const contribution = await hook.afterMigration?.({ ...ctx, record: traced });
    if (contribution) contributions.push(contribution);
  }
  return { record: withContributions(traced, contributions), rebootGuest: contributions.some((c) => c.rebootGuest) };
}

/**
 * The one place a record takes the lab features' contributions (pure): their parts into `extra`,
 * their metrics after the trace metrics, the destination's negotiated queue pairs, and their
 * reasons not to count the migration (in hook order, before an earlier reason of the traces).
 */
export function withContributions(traced: IterationRecord, contributions: readonly MigrationContribution[]): IterationRecord {
  const record: IterationRecord = { ...traced, metrics: { ...traced.metrics } };
  let parts: Partial<RecordParts> = {};
  const reasons: string[] = [];
  for (const c of contributions) {
    Object.assign(record.metrics, c.metrics);
    if (c.metricErrors && Object.keys(c.metricErrors).length > 0) record.metricErrors = { ...record.metricErrors, ...c.metricErrors };
    if (c.parts) parts = { ...parts, ...c.parts };
    if (c.negotiatedQueuePairs) record.negotiatedQueuePairs = c.negotiatedQueuePairs;
    if (c.invalid) reasons.push(c.invalid);
  }
  if (Object.keys(parts).length > 0) record.extra = { ...traced.extra, ...parts };
  if (reasons.length > 0) {
    const earlier = traced.status === 'invalid' && traced.reason ? [traced.reason] : [];
    record.status = 'invalid';
    record.downtimeMs = null;
    record.reason = [...reasons, ...earlier].join('; ');
  }
  return record;
}

/** The record of a migration that gave no measurement: every metric null, the reason named. */
export function failedRecord(ctx: RecordContext, status: 'failed' | 'invalid', reason: string, o: RecordSettings): IterationRecord {
  const record = baseRecord(ctx, o);
  record.status = status;
  record.reason = reason;
  for (const name of o.metrics.names) record.metrics[name] = null;
  return record;
}

function baseRecord(ctx: RecordContext, o: RecordSettings): IterationRecord {
  const { planned } = ctx;
  return {
    seq: planned.seq,
    block: planned.block,
    variant: planned.cell.variant,
    vmSize: planned.cell.vmSize,
    queuePairs: planned.cell.queuePairs,
    iteration: planned.iteration,
    warmup: planned.warmup,
    from: ctx.from.name,
    to: ctx.to.name,
    status: 'ok',
    downtimeMs: null,
    primaryMetric: o.metrics.primary,
    metrics: {},
    qmp: null,
    traces: { source: '', destination: '' },
    clock: ctx.clock,
    accel: o.accel,
    destinationQmpReadyMs: null,
    cycleMs: Math.round(performance.now() - ctx.cycleStart),
    startedAt: ctx.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
  };
}
