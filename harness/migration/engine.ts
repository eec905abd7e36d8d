/**
 * The migration engine: boots a guest on the first host, migrates it back and forth, captures a
 * pair of trace files per migration and turns them into downtime records.
 */
import { join } from 'node:path';
import { estimateAfterMigration, type ClockEstimator, type ClockOffset } from '../hosts/clock.ts';
import type { HostTransport, HostUnreachableError } from '../hosts/transport.ts';
import { analyseParsed, analysisEvents } from '../metrics/analyse.ts';
import type { MetricRule } from '../metrics/rules.ts';
import type { Profile, Variant, VmSettings } from '../profile/schema.ts';
import { parseDuration } from '../profile/size.ts';
import { qemuArgs, type QemuLaunch } from '../qemu/command.ts';
import { DEAD_GUEST_STATES, QemuInstance } from '../qemu/instance.ts';
import type { QmpEvent } from '../qemu/qmp.ts';
import type { RunStore } from '../results/store.ts';
import type { IterationRecord, MigrationRamStats } from '../results/types.ts';
import { scanTraceFile } from '../traces/read.ts';
import { describeLoss, lostConnections, restoreConnections } from './reconnect.ts';
import { cellKey, cellLabel, type Block, type Cell, type PlannedMigration } from './schedule.ts';

export interface EngineHost {
  name: string;
  transport: HostTransport;
  /** This run's directory on the host: traces, sockets, consoles. */
  runDir: string;
  migrationAddress: string;
}

/** What a hook sees of one migration. */
export interface MigrationContext {
  planned: PlannedMigration;
  from: EngineHost;
  to: EngineHost;
  variant: Variant;
}

/**
 * Extension points for labs that need more than two QEMU processes: a NIC per host (vDPA device,
 * tap), a network probe running across the switchover, a guest-integrity check afterwards.
 */
export interface MigrationHooks {
  /** Runs before a VM boot (block) starts, with no QEMU running (re-create a cell's devices here). */
  beforeBlock?(ctx: { block: Block }): Promise<void>;
  /** Changes to one QEMU launch (e.g. the host's /dev/vhost-vdpa-N, a tap NIC). */
  launch?(ctx: { host: EngineHost; role: 'src' | 'dst'; planned: PlannedMigration; variant: Variant; vm: VmSettings }): Partial<QemuLaunch> | Promise<Partial<QemuLaunch>>;
  /** Runs once the destination is up, before `migrate` (start a probe here). */
  beforeMigration?(ctx: MigrationContext & { source: QemuInstance; destination: QemuInstance }): Promise<void>;
  /**
   * Runs after the record is built (traces analysed) and before it is written: may add to
   * record.extra or record.metrics, or mark the record invalid with a reason. `rebootGuest`: the
   * guest is damaged; the engine boots a fresh one before the next migration.
   */
  afterMigration?(ctx: MigrationContext & { record: IterationRecord; destination?: QemuInstance }): Promise<void | { rebootGuest?: boolean }>;
}

export interface EngineOptions {
  hooks?: readonly MigrationHooks[];
  profile: Profile;
  store: RunStore;
  hosts: [EngineHost, EngineHost];
  accel: 'kvm' | 'tcg';
  binaries: ReadonlyMap<string, string>;
  /** Trace events to enable, per variant (only those its QEMU binary knows). */
  traceEvents: ReadonlyMap<string, readonly string[]>;
  metrics: { primary: string; names: readonly string[]; rules: Readonly<Record<string, MetricRule>> };
  clock: ClockEstimator;
  progress: ProgressSink;
  signal?: AbortSignal;
  /** Migrations already recorded (resume): skipped, keyed by seq. */
  done?: ReadonlySet<number>;
  /**
   * Failed migrations in a row per cell (cellKey) carried over from before a resume, and cells
   * already given up on: a resumed run abandons exactly what an uninterrupted one would have.
   */
  failureStreaks?: Map<string, number>;
  abandonedCells?: ReadonlySet<string>;
  /** Called when a cell reaches migration.maxConsecutiveFailures: the rest of it is skipped. */
  onCellAbandoned?(cell: Cell, reason: string, afterSeq: number): void | Promise<void>;
  /** Adaptive sampling: a cell's remaining measured migrations are skipped once it is done. */
  sampling?: CellSampling;
}

export interface CellSampling {
  isDone(cell: Cell): boolean;
  recorded(record: IterationRecord): void;
}

export interface ProgressSink {
  blockStarted(block: Block, total: number): void;
  migrationDone(record: IterationRecord, planned: PlannedMigration, total: number): void;
  note(message: string): void;
}

export class RunInterrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'RunInterrupted';
  }
}

interface MigrationTiming {
  sourceSetup?: QmpEvent;
  sourceCompleted?: QmpEvent;
  destinationCompleted?: QmpEvent;
  info?: QueryMigrate;
}

interface QueryMigrate {
  status: string;
  'total-time'?: number;
  downtime?: number;
  'setup-time'?: number;
  'error-desc'?: string;
  'socket-address'?: { type: string; host?: string; port?: string }[];
  ram?: Record<string, number | undefined>;
}

/** query-migrate's ram counters in the record's names (pure). */
export function ramStats(ram: Record<string, number | undefined> | undefined): MigrationRamStats | undefined {
  if (!ram) return undefined;
  const stats: MigrationRamStats = {
    transferredBytes: ram.transferred,
    normalPages: ram.normal,
    zeroPages: ram.duplicate,
    dirtySyncCount: ram['dirty-sync-count'],
    mbps: ram.mbps,
    precopyBytes: ram['precopy-bytes'],
    downtimeBytes: ram['downtime-bytes'],
  };
  const present = Object.entries(stats).filter(([, v]) => typeof v === 'number');
  return present.length ? (Object.fromEntries(present) as MigrationRamStats) : undefined;
}

interface Prepared {
  destination: QemuInstance;
  clock: ClockOffset;
  startedAt: Date;
  cycleStart: number;
}

/** A preparation that failed after its destination started: the destination must still be ended. */
interface PrepareFailure {
  destination?: QemuInstance;
}

class MigrationFailure extends Error {
  constructor(
    message: string,
    readonly status: 'failed' | 'invalid' = 'failed',
  ) {
    super(message);
  }
}

export async function runSchedule(blocks: readonly Block[], options: EngineOptions): Promise<IterationRecord[]> {
  const total = blocks.reduce((n, b) => n + b.migrations.length, 0);
  const records: IterationRecord[] = [];
  const streaks = options.failureStreaks ?? new Map<string, number>();
  const abandoned = new Set(options.abandonedCells ?? []);
  for (const block of blocks) {
    if (abandoned.has(cellKey(block.cell))) continue;
    const pending = block.migrations.filter((m) => !options.done?.has(m.seq));
    if (pending.length === 0 || options.sampling?.isDone(block.cell)) continue;
    throwIfAborted(options.signal);
    options.progress.blockStarted(block, total);
    for (const hook of options.hooks ?? []) await hook.beforeBlock?.({ block });
    const outcome = await runBlock(block, pending, options, total, streaks);
    records.push(...outcome.records);
    if (outcome.abandonReason) {
      abandoned.add(cellKey(block.cell));
      await options.onCellAbandoned?.(block.cell, outcome.abandonReason, outcome.records.at(-1)?.seq ?? 0);
    }
  }
  return records;
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new RunInterrupted();
}

function fileSlug(planned: PlannedMigration): string {
  const c = planned.cell;
  return `${String(planned.seq).padStart(4, '0')}-${c.variant}-${c.vmSize}${c.queuePairs !== null ? `-${c.queuePairs}qp` : ''}`;
}

async function runBlock(block: Block, pending: PlannedMigration[], o: EngineOptions, total: number, streaks: Map<string, number>): Promise<{ records: IterationRecord[]; abandonReason?: string }> {
  const variant = o.profile.variants.find((v) => v.name === block.cell.variant)!;
  const timeoutMs = parseDuration(o.profile.migration.timeout);
  const qmpTimeoutMs = parseDuration(o.profile.migration.qmpTimeout);
  const records: IterationRecord[] = [];
  let current: QemuInstance | undefined;
  let abandonReason: string | undefined;
  const key = cellKey(block.cell);
  const directoriesMade = new Set<EngineHost>();
  const launch = async (host: EngineHost, planned: PlannedMigration, role: 'src' | 'dst') => {
    const files = qemuFiles(host, planned, role);
    if (!directoriesMade.has(host)) {
      await host.transport.run(['mkdir', '-p', join(host.runDir, 'sock'), join(host.runDir, 'traces'), join(host.runDir, 'console'), join(host.runDir, 'stderr')]);
      directoriesMade.add(host);
    }
    const overrides: Partial<QemuLaunch> = {};
    // each hook sees the VM settings earlier hooks made, so changes to different parts of it compose
    for (const hook of o.hooks ?? []) if (hook.launch) Object.assign(overrides, await hook.launch({ host, role, planned, variant, vm: overrides.vm ?? o.profile.vm }));
    const argv = qemuArgs(launchSettings(o, block, variant, host, planned, role, files, overrides));
    return QemuInstance.launch(host.transport, argv, files, `${role} of migration ${planned.seq}`, qmpTimeoutMs);
  };
  const hostOf = (planned: PlannedMigration, side: 'from' | 'to') => o.hosts[(planned.direction === 0) === (side === 'from') ? 0 : 1];

  /** Source ready (fresh, or its trace rotated to this migration's file) and destination up. */
  const prepare = async (planned: PlannedMigration): Promise<Prepared> => {
    const from = hostOf(planned, 'from');
    const to = hostOf(planned, 'to');
    const startedAt = new Date();
    const cycleStart = performance.now();
    if (!current || current.host !== from.transport) {
      await current?.kill();
      current = await launch(from, planned, 'src');
    } else {
      const sourceTrace = join(from.runDir, 'traces', `${fileSlug(planned)}-src-${from.name}.log`);
      await current.rotateTrace(sourceTrace);
    }
    await requireRunning(current, 'source before migration');
    const destination = await launch(to, planned, 'dst');
    try {
      const clock = await o.clock.estimate(from.transport, to.transport);
      return { destination, clock, startedAt, cycleStart };
    } catch (error) {
      throw Object.assign(error as Error, { destination } satisfies PrepareFailure);
    }
  };
  let upcoming: Promise<Prepared> | undefined;
  /** A destination started for a migration that will not run now (failure, interruption) is ended. */
  const discardUpcoming = async () => {
    const pendingPrepare = upcoming;
    upcoming = undefined;
    if (!pendingPrepare) return;
    const prepared = await pendingPrepare.catch((error: PrepareFailure) => (error.destination ? { destination: error.destination } : undefined));
    // over a connection that dropped the kill fails; what it leaves is ended once the host is back
    await prepared?.destination.kill().catch(() => undefined);
  };

  try {
    for (let index = 0; index < pending.length; index++) {
      const planned = pending[index];
      throwIfAborted(o.signal);
      if (!planned.warmup && o.sampling?.isDone(planned.cell)) break;
      const from = hostOf(planned, 'from');
      const to = hostOf(planned, 'to');
      let startedAt = new Date();
      let cycleStart = performance.now();
      let destination: QemuInstance | undefined;
      let timing: MigrationTiming = {};
      let clock: ClockOffset = { offsetUs: 0, uncertaintyUs: 0, method: 'unmeasured' };
      let record: IterationRecord;
      let unreachable: HostUnreachableError | undefined;
      // this migration's trace files, kept apart from `current`, which moves to the destination on success
      const tracePaths: { source?: string; destination?: string } = {};
      try {
        const ready = await (upcoming ?? prepare(planned));
        upcoming = undefined;
        ({ destination, clock, startedAt, cycleStart } = ready);
        for (const hook of o.hooks ?? []) await hook.beforeMigration?.({ planned, from, to, variant, source: current!, destination });
        tracePaths.source = current!.currentTraceFile;
        tracePaths.destination = destination.files.traceFile;
        timing = await migrate(current!, destination, variant, to, timeoutMs, o.signal);
        await requireRunning(destination, 'destination after migration');
        clock = await estimateAfterMigration(o.clock, clock, from.transport, to.transport);
        const sourceTraceHost = current!.currentTraceFile;
        // the old source goes first: the next destination may need its host resources (a vDPA device)
        await current!.stop();
        current = destination;
        destination = undefined;
        const judgesGuest = (o.hooks ?? []).some((hook) => hook.afterMigration);
        const finishing = (async () => {
          const built = await buildRecord(planned, from, to, sourceTraceHost, current!.files.traceFile, timing, clock, o, startedAt, cycleStart, current!.qmpReadyMs);
          let reboot = false;
          for (const hook of o.hooks ?? []) if ((await hook.afterMigration?.({ planned, from, to, variant, record: built, destination: current }))?.rebootGuest) reboot = true;
          return { built, reboot };
        })();
        // the next destination starts while this migration's traces are fetched and analysed, unless a
        // hook still has to judge the guest: the next migration must not touch a guest that may be damaged
        const following = pending[index + 1];
        const startFollowing = () => {
          if (following && !o.signal?.aborted && (following.warmup || !o.sampling?.isDone(following.cell))) {
            upcoming = prepare(following);
            upcoming.catch(() => undefined);
          }
        };
        if (!judgesGuest) startFollowing();
        const finished = await finishing;
        record = finished.built;
        if (finished.reboot) {
          o.progress.note(`migration ${planned.seq}: ${record.reason ?? 'guest damaged'}; booting a fresh guest`);
          await current!.kill();
          current = undefined;
        }
        if (judgesGuest) startFollowing();
      } catch (error) {
        // a dropped host connection first: until it is back nothing on that host can be ended or fetched
        const lost = error instanceof RunInterrupted ? [] : await lostConnections(o.hosts);
        if (lost.length > 0) {
          o.progress.note(`migration ${planned.seq}: ${describeLoss(lost)}; reconnecting (for up to ${o.profile.migration.reconnectTimeout})`);
          unreachable = await restoreConnections(lost, parseDuration(o.profile.migration.reconnectTimeout), (m) => o.progress.note(m), o.signal);
          throwIfAborted(o.signal);
        }
        await discardUpcoming();
        destination ??= (error as PrepareFailure).destination;
        if (error instanceof RunInterrupted) {
          await destination?.kill();
          throw error;
        }
        const reason = `${lost.length > 0 ? `${describeLoss(lost)}: ` : ''}${error instanceof Error ? error.message : String(error)}`;
        const status = error instanceof MigrationFailure ? error.status : 'failed';
        const sourceTrace = tracePaths.source ?? current?.currentTraceFile;
        const destinationTrace = tracePaths.destination ?? destination?.files.traceFile;
        const stderr = [await current?.stderrTail(), await destination?.stderrTail()].filter(Boolean).join(' | ');
        await Promise.allSettled([current?.kill(), destination?.kill()]);
        current = undefined;
        destination = undefined;
        record = failedRecord(planned, from, to, status, stderr ? `${reason} (QEMU: ${stderr})` : reason, o, startedAt, cycleStart, clock);
        await fetchTraces(record, from, to, sourceTrace, destinationTrace, o.store);
      }
      await o.store.appendIteration(record);
      records.push(record);
      o.sampling?.recorded(record);
      o.progress.migrationDone(record, planned, total);
      // the migration lost with the host is recorded; the ones after it could only fail the same way
      if (unreachable) throw unreachable;
      // invalid counts too: K migrations in a row without a usable measurement is a broken cell
      const streak = record.status === 'ok' ? 0 : (streaks.get(key) ?? 0) + 1;
      streaks.set(key, streak);
      const limit = o.profile.migration.maxConsecutiveFailures;
      if (streak >= limit) {
        abandonReason = `${streak} migrations in a row not ok (last, seq ${record.seq}: ${record.status}: ${record.reason ?? 'no reason recorded'})`;
        o.progress.note(`${cellLabel(block.cell)}: abandoned: ${abandonReason}`);
        break;
      }
    }
  } finally {
    await discardUpcoming();
    await current?.stop().catch(() => current?.kill());
  }
  return { records, abandonReason };
}

/** Where one QEMU process keeps its socket, trace, console and stderr on its host. */
export function qemuFiles(host: EngineHost, planned: PlannedMigration, role: 'src' | 'dst') {
  const base = `${fileSlug(planned)}-${role}-${host.name}`;
  return {
    qmpSocket: join(host.runDir, 'sock', `${String(planned.seq).padStart(4, '0')}-${role}.sock`),
    traceFile: join(host.runDir, 'traces', `${base}.log`),
    consoleFile: join(host.runDir, 'console', `${base}.log`),
    stderrFile: join(host.runDir, 'stderr', `${base}.log`),
  };
}

/** One QEMU launch of a migration (pure): the run and `plan` both build command lines from it. */
export function launchSettings(
  o: Pick<EngineOptions, 'binaries' | 'profile' | 'accel' | 'traceEvents'>,
  block: Pick<Block, 'cell'>,
  variant: Variant,
  host: EngineHost,
  planned: PlannedMigration,
  role: 'src' | 'dst',
  files: ReturnType<typeof qemuFiles>,
  overrides: Partial<QemuLaunch> = {},
): QemuLaunch {
  return {
    binary: o.binaries.get(variant.name)!,
    variant,
    vm: o.profile.vm,
    vmSize: block.cell.vmSize,
    queuePairs: block.cell.queuePairs,
    accel: o.accel,
    name: `vdpa-bench-${planned.seq}-${role}`,
    qmpSocket: files.qmpSocket,
    traceFile: files.traceFile,
    consoleFile: files.consoleFile,
    traceEvents: o.traceEvents.get(variant.name) ?? [],
    defaultMemoryDir: host.runDir,
    incoming: role === 'dst',
    ...overrides,
  };
}

/** The QMP commands of one migration in the order the engine sends them (also what `plan` prints). */
export function migrationQmpCommands(variant: Variant, destinationAddress: string) {
  const capabilities = Object.entries({ events: true, ...variant.capabilities }).map(([capability, state]) => ({ capability, state }));
  const setUp: { execute: string; arguments: Record<string, unknown> }[] = [{ execute: 'migrate-set-capabilities', arguments: { capabilities } }];
  if (Object.keys(variant.parameters).length > 0) setUp.push({ execute: 'migrate-set-parameters', arguments: variant.parameters });
  return {
    /** Sent to both sides. */
    setUp,
    incoming: { execute: 'migrate-incoming', arguments: { uri: `tcp:${destinationAddress}:0` } },
    migrate: (port: string) => ({ execute: 'migrate', arguments: { uri: `tcp:${destinationAddress}:${port}` } }),
  };
}

async function requireRunning(instance: QemuInstance, what: string): Promise<void> {
  const status = await instance.status();
  if (DEAD_GUEST_STATES.has(status)) throw new MigrationFailure(`${what}: guest is ${status} on ${instance.host.hostName}`, 'failed');
  if (status !== 'running') throw new MigrationFailure(`${what}: guest is "${status}", expected "running"`, 'failed');
}

async function migrate(source: QemuInstance, destination: QemuInstance, variant: Variant, to: EngineHost, timeoutMs: number, signal?: AbortSignal): Promise<MigrationTiming> {
  const commands = migrationQmpCommands(variant, to.migrationAddress);
  const setUp = async (q: QemuInstance) => {
    for (const c of commands.setUp) await q.qmp.execute(c.execute, c.arguments);
  };
  await Promise.all([setUp(source), setUp(destination)]);
  const sourceMark = source.qmp.events.length;
  const destinationMark = destination.qmp.events.length;
  await destination.qmp.execute(commands.incoming.execute, commands.incoming.arguments);
  const listening = await destination.qmp.execute<QueryMigrate>('query-migrate');
  const actualPort = listening['socket-address']?.find((a) => a.port)?.port;
  if (!actualPort) throw new MigrationFailure('destination did not report the port it listens on (query-migrate has no socket-address)');

  const isMigration = (statuses: string[]) => (e: QmpEvent) => e.event === 'MIGRATION' && statuses.includes(String(e.data?.status));
  const pauseHandler = variant.capabilities['pause-before-switchover']
    ? source.qmp.waitForEvent(isMigration(['pre-switchover']), timeoutMs, 'pre-switchover', sourceMark).then(() => source.qmp.execute('migrate-continue', { state: 'pre-switchover' }))
    : undefined;
  pauseHandler?.catch(() => undefined);

  const migrateCommand = commands.migrate(actualPort);
  await source.qmp.execute(migrateCommand.execute, migrateCommand.arguments);
  const finished = source.qmp.waitForEvent(isMigration(['completed', 'failed', 'cancelled']), timeoutMs, 'migration completion', sourceMark);
  // The listener goes when the migration ends: a run of thousands of migrations shares one signal.
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    if (!signal) return;
    if (signal.aborted) reject(new RunInterrupted());
    onAbort = () => reject(new RunInterrupted());
    signal.addEventListener('abort', onAbort, { once: true });
  });
  let end: QmpEvent;
  try {
    end = await Promise.race([finished, aborted]);
  } catch (error) {
    if (!source.qmp.isClosed) await source.qmp.execute('migrate_cancel').catch(() => undefined);
    if (error instanceof RunInterrupted) throw error;
    if ((error as Error).name === 'QmpTimeoutError') throw new MigrationFailure(`migration did not complete within ${timeoutMs / 1000} s: cancelled`);
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  const info = await settledMigrationInfo(source, end.data?.status === 'completed');
  if (end.data?.status !== 'completed') {
    throw new MigrationFailure(`migration ${end.data?.status}${info['error-desc'] ? `: ${info['error-desc']}` : ''}`);
  }
  const destinationCompleted = await destination.qmp.waitForEvent(isMigration(['completed', 'failed']), 60_000, 'destination completion', destinationMark);
  if (destinationCompleted.data?.status !== 'completed') throw new MigrationFailure('destination reported the incoming migration failed');
  return {
    sourceSetup: source.qmp.events.slice(sourceMark).find(isMigration(['setup'])),
    sourceCompleted: end,
    destinationCompleted,
    info,
  };
}

/**
 * QEMU emits the completed event before it computes total-time and downtime (they read 0 for a
 * moment), so ask again until they are filled in.
 */
async function settledMigrationInfo(source: QemuInstance, completed: boolean): Promise<QueryMigrate> {
  let info = await source.qmp.execute<QueryMigrate>('query-migrate');
  for (let i = 0; completed && !info['total-time'] && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 10));
    info = await source.qmp.execute<QueryMigrate>('query-migrate');
  }
  return info;
}

async function fetchTraces(record: IterationRecord, from: EngineHost, to: EngineHost, sourceHostPath: string | undefined, destinationHostPath: string | undefined, store: RunStore) {
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
  await Promise.all([fetchOne(from, sourceHostPath, 'source'), fetchOne(to, destinationHostPath, 'destination')]);
}

async function buildRecord(
  planned: PlannedMigration,
  from: EngineHost,
  to: EngineHost,
  sourceHostPath: string,
  destinationHostPath: string,
  timing: MigrationTiming,
  clock: ClockOffset,
  o: EngineOptions,
  startedAt: Date,
  cycleStart: number,
  destinationQmpReadyMs: number,
): Promise<IterationRecord> {
  const record = baseRecord(planned, from, to, o, startedAt, cycleStart, clock);
  record.destinationQmpReadyMs = destinationQmpReadyMs;
  await fetchTraces(record, from, to, sourceHostPath, destinationHostPath, o.store);
  const info = timing.info;
  const ram = ramStats(info?.ram);
  record.qmp = { downtimeMs: info?.downtime ?? null, totalTimeMs: info?.['total-time'] ?? null, setupTimeMs: info?.['setup-time'] ?? null, ...(ram ? { ram } : {}) };
  record.windows = {
    source: { fromUs: timing.sourceSetup?.timeUs, toUs: timing.sourceCompleted?.timeUs },
    destination: { toUs: timing.destinationCompleted?.timeUs },
  };
  if (timing.sourceSetup && timing.destinationCompleted) {
    record.migrationSpanMs = (timing.destinationCompleted.timeUs - clock.offsetUs - timing.sourceSetup.timeUs) / 1000;
  }
  // a trace file that vanished (deleted, disk gone) makes the measurement impossible, not failed
  const missing = [record.traces.source ? '' : `source trace ${sourceHostPath} on ${from.name}`, record.traces.destination ? '' : `destination trace ${destinationHostPath} on ${to.name}`].filter(Boolean);
  if (missing.length > 0) throw new MigrationFailure(`trace file missing: ${missing.join(', ')}`, 'invalid');
  const wanted = analysisEvents(o.metrics.rules, o.metrics.names, planned.cell.queuePairs);
  const source = await scanTraceFile(join(o.store.dir, record.traces.source), { events: wanted });
  const destination = await scanTraceFile(join(o.store.dir, record.traces.destination), { events: wanted });
  const analysis = analyseParsed({
    source,
    destination,
    rules: o.metrics.rules,
    names: o.metrics.names,
    primary: o.metrics.primary,
    clockOffsetUs: clock.offsetUs,
    windows: record.windows,
    queuePairs: planned.cell.queuePairs,
    destinationQmpReadyMs,
  });
  Object.assign(record, analysis);
  return record;
}

function baseRecord(planned: PlannedMigration, from: EngineHost, to: EngineHost, o: EngineOptions, startedAt: Date, cycleStart: number, clock: ClockOffset): IterationRecord {
  return {
    seq: planned.seq,
    block: planned.block,
    variant: planned.cell.variant,
    vmSize: planned.cell.vmSize,
    queuePairs: planned.cell.queuePairs,
    iteration: planned.iteration,
    warmup: planned.warmup,
    from: from.name,
    to: to.name,
    status: 'ok',
    downtimeMs: null,
    primaryMetric: o.metrics.primary,
    metrics: {},
    qmp: null,
    traces: { source: '', destination: '' },
    clock,
    accel: o.accel,
    destinationQmpReadyMs: null,
    cycleMs: Math.round(performance.now() - cycleStart),
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
  };
}

function failedRecord(planned: PlannedMigration, from: EngineHost, to: EngineHost, status: 'failed' | 'invalid', reason: string, o: EngineOptions, startedAt: Date, cycleStart: number, clock: ClockOffset): IterationRecord {
  const record = baseRecord(planned, from, to, o, startedAt, cycleStart, clock);
  record.status = status;
  record.reason = reason;
  for (const name of o.metrics.names) record.metrics[name] = null;
  return record;
}
