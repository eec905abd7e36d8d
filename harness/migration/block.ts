/**
 * One block: a guest booted on the first host and migrated back and forth. While one migration's
 * traces are fetched and analysed, the next destination already starts (unless a hook still has
 * to judge the guest). A failed migration ends both QEMU processes, so the next one boots afresh;
 * a dropped host connection is restored before anything else; too many failures in a row abandon
 * the cell.
 */
import { estimateAfterMigration } from '../hosts/clock.ts';
import type { HostUnreachableError } from '../hosts/transport.ts';
import { cellKey, cellLabel } from '../profile/cell.ts';
import { parseDuration } from '../profile/size.ts';
import type { Variant } from '../profile/schema.ts';
import type { RunningQemu } from '../qemu/running.ts';
import type { ClockEstimate, IterationRecord } from '../results/types.ts';
import { launchFirstBoot, type ScheduleAccel } from './accel-fallback.ts';
import { RunInterrupted, throwIfAborted, type EngineHost, type EngineOptions } from './interfaces.ts';
import { qemuFiles, QemuLauncher } from './launch.ts';
import { migrate, MigrationFailure, requireRunning } from './migrate.ts';
import { describeLoss, lostConnections, restoreConnections } from './reconnect.ts';
import { buildRecord, completeRecord, failedRecord, fetchTraces, withContributions, type RecordContext, type TracePaths } from './record.ts';
import type { Block, PlannedMigration } from './schedule.ts';

export interface BlockOutcome {
  records: IterationRecord[];
  /** Set when the cell reached migration.maxConsecutiveFailures: the rest of it is skipped. */
  abandonReason?: string;
}

/** A destination started and clock measured ahead of a migration. */
interface Prepared {
  destination: RunningQemu;
  clock: ClockEstimate;
  startedAt: Date;
  cycleStart: number;
}

/** A preparation that failed after its destination started: the destination must still be ended. */
interface PrepareFailure {
  destination?: RunningQemu;
}

/** One migration in flight: what its record is built from, and the processes it still owns. */
interface Attempt extends RecordContext {
  /** The destination until the migration succeeds (then it is the block's source). */
  destination?: RunningQemu;
  /** This migration's trace files, kept apart from the source, which moves to the destination on success. */
  traces: TracePaths;
}

const unmeasuredClock = (): ClockEstimate => ({ offsetUs: 0, uncertaintyUs: 0, method: 'unmeasured' });

/** What the schedule carries from block to block: its migration count and each cell's run of consecutive failures. */
export interface ScheduleTally {
  total: number;
  streaks: Map<string, number>;
  /** The accelerator launches use now (the first boot may switch it to TCG). */
  accel: ScheduleAccel;
}

export async function runBlock(
  block: Block,
  pending: readonly PlannedMigration[],
  o: EngineOptions,
  { total, streaks, accel }: ScheduleTally,
): Promise<BlockOutcome> {
  const run = new BlockRun(block, o, accel);
  const records: IterationRecord[] = [];
  try {
    for (let index = 0; index < pending.length; index++) {
      const planned = pending[index];
      throwIfAborted(o.signal);
      if (!planned.warmup && o.sampling?.isDone(planned.cell)) break;
      const { record, unreachable } = await run.migrateOnce(planned, pending[index + 1]);
      await o.store.appendIteration(record);
      records.push(record);
      o.sampling?.recorded(record);
      o.progress.migrationDone(record, planned, total);
      // the migration lost with the host is recorded; the ones after it could only fail the same way
      if (unreachable) throw unreachable;
      const abandonReason = countFailures(record, streaks, cellKey(block.cell), o.profile.migration.maxConsecutiveFailures);
      if (abandonReason) {
        o.progress.note(`${cellLabel(block.cell)}: abandoned: ${abandonReason}`);
        return { records, abandonReason };
      }
    }
  } finally {
    await run.close();
  }
  return { records };
}

/** Updates the cell's run of not-ok migrations; the reason to abandon the cell once it reaches the limit. */
function countFailures(record: IterationRecord, streaks: Map<string, number>, key: string, limit: number): string | undefined {
  // invalid counts too: K migrations in a row without a usable measurement is a broken cell
  const streak = record.status === 'ok' ? 0 : (streaks.get(key) ?? 0) + 1;
  streaks.set(key, streak);
  if (streak < limit) return undefined;
  return `${streak} migrations in a row not ok (last, seq ${record.seq}: ${record.status}: ${record.reason ?? 'no reason recorded'})`;
}

/** The state of a block between its migrations: the guest's current QEMU and the next destination starting. */
class BlockRun {
  private readonly variant: Variant;
  private readonly timeoutMs: number;
  private readonly launcher: QemuLauncher;
  /** The QEMU process the guest runs in now (the next migration's source). */
  private source: RunningQemu | undefined;
  /** The next migration's destination, started while the previous migration is analysed. */
  private upcoming: Promise<Prepared> | undefined;

  constructor(
    private readonly block: Block,
    private readonly options: EngineOptions,
    private readonly accel: ScheduleAccel,
  ) {
    this.variant = options.profile.variants.find((v) => v.name === block.cell.variant)!;
    this.timeoutMs = parseDuration(options.profile.migration.timeout);
    this.launcher = new QemuLauncher(options, block, this.variant, parseDuration(options.profile.migration.qmpTimeout));
  }

  /** The engine's options with the accelerator launches use now: what records say the guest ran under. */
  private get o(): EngineOptions {
    return this.accel.current === this.options.accel ? this.options : { ...this.options, accel: this.accel.current };
  }

  private hostOf(planned: PlannedMigration, side: 'from' | 'to'): EngineHost {
    return this.o.hosts[(planned.direction === 0) === (side === 'from') ? 0 : 1];
  }

  /** Source ready (fresh, or its trace rotated to this migration's file) and destination up. */
  private async prepare(planned: PlannedMigration): Promise<Prepared> {
    const from = this.hostOf(planned, 'from');
    const to = this.hostOf(planned, 'to');
    const startedAt = new Date();
    const cycleStart = performance.now();
    if (!this.source || this.source.host !== from.transport) {
      await this.source?.kill();
      this.source = await launchFirstBoot(this.accel, this.o, { host: from.name, seq: planned.seq }, (accel) =>
        this.launcher.launch(from, planned, 'src', accel),
      );
    } else {
      // the same guest goes on: its trace continues in this migration's file
      await this.source.rotateTrace(qemuFiles(from, planned, 'src').traceFile);
    }
    await requireRunning(this.source, 'source before migration');
    const destination = await this.launcher.launch(to, planned, 'dst', this.accel.current);
    try {
      const clock = await this.o.clock.estimate(from.transport, to.transport);
      return { destination, clock, startedAt, cycleStart };
    } catch (error) {
      throw Object.assign(error as Error, { destination } satisfies PrepareFailure);
    }
  }

  /** Starts the next migration's destination now, unless it will not run. */
  private prepareNext(following: PlannedMigration | undefined): void {
    if (following && !this.o.signal?.aborted && (following.warmup || !this.o.sampling?.isDone(following.cell))) {
      this.upcoming = this.prepare(following);
      this.upcoming.catch(() => undefined);
    }
  }

  /** A destination started for a migration that will not run now (failure, interruption) is ended. */
  private async discardUpcoming(): Promise<void> {
    const pendingPrepare = this.upcoming;
    this.upcoming = undefined;
    if (!pendingPrepare) return;
    const prepared = await pendingPrepare.catch((error: PrepareFailure) => (error.destination ? { destination: error.destination } : undefined));
    // over a connection that dropped the kill fails; what it leaves is ended once the host is back
    await prepared?.destination.kill().catch(() => undefined);
  }

  /** One migration and its record, ok or not; `unreachable` when a host did not come back. */
  async migrateOnce(
    planned: PlannedMigration,
    following: PlannedMigration | undefined,
  ): Promise<{ record: IterationRecord; unreachable?: HostUnreachableError }> {
    const attempt: Attempt = {
      planned,
      from: this.hostOf(planned, 'from'),
      to: this.hostOf(planned, 'to'),
      startedAt: new Date(),
      cycleStart: performance.now(),
      clock: unmeasuredClock(),
      traces: {},
    };
    try {
      return { record: await this.migrateAndRecord(attempt, following) };
    } catch (error) {
      return this.recordFailure(attempt, error);
    }
  }

  private async migrateAndRecord(attempt: Attempt, following: PlannedMigration | undefined): Promise<IterationRecord> {
    const { planned, from, to } = attempt;
    const ready = await (this.upcoming ?? this.prepare(planned));
    this.upcoming = undefined;
    // read after the boot: the run's first boot may have switched the accelerator
    const { o, variant } = this;
    Object.assign(attempt, ready);
    const source = this.source!;
    const destination = ready.destination;
    for (const hook of o.hooks ?? []) await hook.beforeMigration?.({ planned, from, to, variant, source, destination });
    attempt.traces = { source: source.currentTraceFile, destination: destination.files.traceFile };
    const timing = await migrate({ source, destination, variant, to, port: o.profile.migration.port, timeoutMs: this.timeoutMs, signal: o.signal });
    await requireRunning(destination, 'destination after migration');
    attempt.clock = await estimateAfterMigration(o.clock, attempt.clock, from.transport, to.transport);
    const sourceTrace = source.currentTraceFile;
    // the old source goes first: the next destination may need its host resources (a vDPA device)
    await source.stop();
    this.source = destination;
    attempt.destination = undefined;
    const judgesGuest = (o.hooks ?? []).some((hook) => hook.afterMigration);
    const finishing = (async () => {
      // a tracer's capture (dtrace backend) is cut into the trace files first; its faults void the migration
      const tracerFaults = [...((await source.settleTrace?.()) ?? []), ...((await destination.settleTrace?.()) ?? [])];
      const built = await buildRecord(
        attempt,
        {
          timing,
          sourceTrace,
          destinationTrace: destination.files.traceFile,
          destinationQmpReadyMs: destination.qmpReadyMs,
          startup: { source: source.startup, destination: destination.startup },
        },
        o,
      );
      const traced = tracerFaults.length > 0 ? withContributions(built, [{ invalid: `trace capture incomplete: ${tracerFaults.join('; ')}` }]) : built;
      return completeRecord(traced, o.hooks ?? [], { planned, from, to, variant, destination: this.source });
    })();
    // the next destination starts while this migration's traces are fetched and analysed, unless a
    // hook still has to judge the guest: the next migration must not touch a guest that may be damaged
    if (!judgesGuest) this.prepareNext(following);
    const { record: built, rebootGuest: reboot } = await finishing;
    if (reboot) {
      o.progress.note(`migration ${planned.seq}: ${built.reason ?? 'guest damaged'}; booting a fresh guest`);
      await this.source!.kill();
      this.source = undefined;
    }
    if (judgesGuest) this.prepareNext(following);
    return built;
  }

  private async recordFailure(attempt: Attempt, error: unknown): Promise<{ record: IterationRecord; unreachable?: HostUnreachableError }> {
    const { o } = this;
    let unreachable: HostUnreachableError | undefined;
    // a dropped host connection first: until it is back nothing on that host can be ended or fetched
    const lost = error instanceof RunInterrupted ? [] : await lostConnections(o.hosts);
    if (lost.length > 0) {
      o.progress.note(`migration ${attempt.planned.seq}: ${describeLoss(lost)}; reconnecting (for up to ${o.profile.migration.reconnectTimeout})`);
      unreachable = await restoreConnections(lost, parseDuration(o.profile.migration.reconnectTimeout), (m) => o.progress.note(m), o.signal);
      throwIfAborted(o.signal);
    }
    await this.discardUpcoming();
    attempt.destination ??= (error as PrepareFailure).destination;
    // once the run is interrupted, a migration that did not complete is not a result: whatever
    // failed may have failed because the run is stopping (it is measured again on --resume)
    if (error instanceof RunInterrupted || o.signal?.aborted) {
      await attempt.destination?.kill();
      throw error instanceof RunInterrupted ? error : new RunInterrupted();
    }
    const reason = `${lost.length > 0 ? `${describeLoss(lost)}: ` : ''}${error instanceof Error ? error.message : String(error)}`;
    const status = error instanceof MigrationFailure ? error.status : 'failed';
    const traces = {
      source: attempt.traces.source ?? this.source?.currentTraceFile,
      destination: attempt.traces.destination ?? attempt.destination?.files.traceFile,
    };
    const stderr = [await this.source?.stderrTail(), await attempt.destination?.stderrTail()].filter(Boolean).join(' | ');
    await Promise.allSettled([this.source?.kill(), attempt.destination?.kill()]);
    this.source = undefined;
    attempt.destination = undefined;
    const record = failedRecord(attempt, status, stderr ? `${reason} (QEMU: ${stderr})` : reason, o);
    await fetchTraces(record, attempt, traces, o.store);
    return { record, unreachable };
  }

  /** Ends what the block still runs: a destination started ahead, and the guest. */
  async close(): Promise<void> {
    await this.discardUpcoming();
    await this.source?.stop().catch(() => this.source?.kill());
  }
}
