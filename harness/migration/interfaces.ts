/**
 * The migration engine's contract with the layers above it: the hosts it migrates between, the
 * options a run gives it, the hooks a lab plugs in, where it reports progress and sampling
 * decisions, and the error it throws when the run is interrupted.
 */
import type { ClockEstimator } from '../hosts/clock.ts';
import type { HostTransport } from '../hosts/transport.ts';
import type { Cell } from '../profile/cell.ts';
import type { MetricRule, Profile, Variant, VmSettings } from '../profile/schema.ts';
import type { QemuLaunch } from '../qemu/command.ts';
import type { QemuStarter, RunningQemu } from '../qemu/running.ts';
import type { RunStore } from '../results/store.ts';
import type { IterationRecord, NegotiatedQueuePairs, RecordParts } from '../results/types.ts';
import type { Block, PlannedMigration } from './schedule.ts';

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
  launch?(ctx: {
    host: EngineHost;
    role: 'src' | 'dst';
    planned: PlannedMigration;
    variant: Variant;
    vm: VmSettings;
  }): Partial<QemuLaunch> | Promise<Partial<QemuLaunch>>;
  /** Runs once the destination is up, before `migrate` (start a probe here). */
  beforeMigration?(ctx: MigrationContext & { source: RunningQemu; destination: RunningQemu }): Promise<void>;
  /**
   * What beforeMigration does, as `plan` prints it (QEMU_PID and such where only a run knows the
   * value). A hook that acts before `migrate` describes itself here: `plan` walks the run's own
   * hook list, so its order is the run's (test/plan/plan-hook-order.test.ts).
   */
  describeBeforeMigration?(ctx: MigrationContext & { vm: VmSettings }): string[];
  /**
   * Runs once the migration's traces are analysed, before its record is written: sees the record
   * of the traces alone and returns what this feature measured. The engine composes every hook's
   * contribution into the record once (record.ts, withContributions); a hook never edits it.
   */
  afterMigration?(ctx: MigrationContext & { record: TracedRecord; destination?: RunningQemu }): Promise<MigrationContribution | void>;
}

type DeepReadonly<T> = T extends readonly (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** The record of a migration's traces as a hook sees it: to read, never to edit. */
export type TracedRecord = DeepReadonly<IterationRecord>;

/** What one lab feature adds to a migration's record after the traces are analysed. */
export interface MigrationContribution {
  /** Its typed parts of record.extra (network, integrity, guestDevice, vdpaReadyGap). */
  parts?: Partial<RecordParts>;
  /** Metrics it measures itself (the lab in a box's network metrics), after the trace metrics; null with a metricErrors entry. */
  metrics?: Readonly<Record<string, number | null>>;
  metricErrors?: Readonly<Record<string, string>>;
  negotiatedQueuePairs?: NegotiatedQueuePairs;
  /** The migration must not count, and why: the record becomes invalid, an earlier reason kept after this one. */
  invalid?: string;
  /** The guest is damaged: the engine boots a fresh one before the next migration. */
  rebootGuest?: boolean;
}

export interface EngineOptions {
  hooks?: readonly MigrationHooks[];
  profile: Profile;
  store: RunStore;
  hosts: [EngineHost, EngineHost];
  accel: 'kvm' | 'tcg';
  /** accel auto: QEMU failing to start with KVM at the run's first boot switches the run to TCG (accel-fallback.ts). */
  kvmFallback?: { switched(event: AccelSwitch): Promise<void> };
  binaries: ReadonlyMap<string, string>;
  /** Starts the QEMU processes: qemuInstances (harness/qemu/instance.ts) in a run, recorded behaviour in the engine's unit tests. */
  qemu: QemuStarter;
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

/** What the engine tells the run when its first boot switched it from KVM to TCG: the manifest records it. */
export interface AccelSwitch {
  host: string;
  seq: number;
  /** QEMU's stderr when it failed to start with KVM. */
  reason: string;
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

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new RunInterrupted();
}
