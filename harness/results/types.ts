/** The results contract: what `run` writes and what `report`, `compare` and `nightly` read. */

export type IterationStatus = 'ok' | 'failed' | 'invalid';

export interface MetricAnchorRecord {
  event: string;
  /** µs since the epoch, source clock (destination anchors corrected by the clock offset). */
  timeUs: number;
  line: number;
}

export interface ClockEstimate {
  offsetUs: number;
  uncertaintyUs: number;
  method: string;
  /** Round trip of the winning sample per host (measured estimates only). */
  roundTripUs?: { from: number; to: number };
}

export interface IterationRecord {
  /** Format version (ITERATION_SCHEMA in schema.ts); stamped by the store on write. */
  schema?: string;
  /** Position of this migration in the run (1-based), across all cells. */
  seq: number;
  /** VM boot (block) this migration belongs to. */
  block: number;
  variant: string;
  /** As written in the profile, e.g. "39G". */
  vmSize: string;
  queuePairs: number | null;
  /** 1-based within its cell; warm-ups are counted separately from measured migrations. */
  iteration: number;
  warmup: boolean;
  from: string;
  to: string;
  status: IterationStatus;
  reason?: string;
  /** The profile's primary metric, ms; null unless status is ok. */
  downtimeMs: number | null;
  primaryMetric: string;
  /** Every metric by name, ms; null where it could not be computed (see metricErrors). */
  metrics: Record<string, number | null>;
  metricErrors?: Record<string, string>;
  metricAnchors?: Record<string, { start: MetricAnchorRecord; end: MetricAnchorRecord; fallback: boolean }>;
  qmp: { downtimeMs: number | null; totalTimeMs: number | null; setupTimeMs: number | null; ram?: MigrationRamStats } | null;
  /** Trace files this migration used, relative to the run directory. */
  traces: { source: string; destination: string };
  /** The part of each trace file that belongs to this migration, µs in that host's clock (from QMP event timestamps). */
  windows?: { source: { fromUs?: number; toUs?: number }; destination: { fromUs?: number; toUs?: number } };
  /**
   * Destination-minus-source clock offset applied to destination times. Measured hosts carry
   * the estimates made before and after the migration (the offset used is their midpoint).
   */
  /** Absent in records from labs that do not measure it. */
  clock?: ClockEstimate & { before?: ClockEstimate; after?: ClockEstimate };
  accel: string;
  /** Destination QEMU spawn → QMP greeting, ms (its QMP blackout at start-up). */
  destinationQmpReadyMs: number | null;
  /** Harness wall time for this migration cycle: destination start → source quit, ms. */
  cycleMs: number;
  /**
   * Source `migrate` (its MIGRATION setup event) to the destination's completed event, ms, from
   * QMP timestamps (destination corrected by the clock offset). QMP's total-time stops when the
   * source is done, which can be before a busy destination has loaded the last state and resumed.
   */
  migrationSpanMs?: number;
  startedAt: string;
  finishedAt: string;
  unparsedTraceLines?: { source: number; destination: number };
  /** vDPA cells: what `vdpa dev config show` said of the destination's device after the migration. */
  negotiatedQueuePairs?: { host: string; device: string; queuePairs: number | null; maxVqPairs?: number; mq: boolean | null };
  /** Free-form extras that later labs attach (phases, network probe, integrity). */
  extra?: Record<string, unknown>;
}

export interface HostFacts {
  name: string;
  transport: string;
  kernel?: string;
  cpuModel?: string;
  cpus?: number;
  memTotalKiB?: number;
  kernelCmdline?: string;
  biosVersion?: string;
  biosDate?: string;
  kvm?: { usable: boolean; reason: string };
  timeSync?: unknown;
  /** Recorded by vDPA labs that know it (see also manifest.lab.vdpaHosts). */
  nicFirmware?: string;
}

export interface VariantFacts {
  name: string;
  binary: string;
  /** `qemu-system-x86_64 --version` first line, per host. */
  qemuVersion: Record<string, string>;
  capabilities: Record<string, boolean>;
  parameters: Record<string, unknown>;
  extraArgs: string[];
  /** Trace events enabled, and those the profile asked for that this QEMU does not have. */
  traceEvents?: string[];
  traceEventsMissing?: string[];
  /** A `qemu.debian` variant: the suite's root filesystem and the exact qemu-system-x86 version, per host. */
  debian?: Record<string, { suite: string; root: string; package: string; version: string; mirror: string }>;
}

/** Why a cell stopped taking measurements: adaptive sampling's decision or the fixed count. */
export interface CellStopRecord {
  cell: string;
  measured: number;
  usable: number;
  reason: 'precision-reached' | 'max-iterations' | 'fixed-count' | 'block-abandoned' | 'interrupted';
  medianMs: number | null;
  /** Half-width of the median's 95% confidence interval, % of the median. */
  ciHalfWidthPct: number | null;
}

export interface RunManifest {
  runId: string;
  tool: { name: 'vdpa-bench'; version: string; gitCommit: string | null };
  profile: { path: string; name: string; sha256: string; text: string };
  startedAt: string;
  finishedAt: string | null;
  state: 'running' | 'completed' | 'interrupted' | 'failed';
  stateReason?: string;
  command: string[];
  options: {
    iterations: number;
    warmup: number;
    vmSizes: string[];
    variants: string[];
    queuePairs: (number | null)[];
    design: string;
    seed: number;
    shard?: string;
  };
  accel: { requested: string; used: string; reason: string };
  hosts: HostFacts[];
  variants: VariantFacts[];
  metrics: { primary: string; names: string[] };
  /** Set-up sentence for reports: NIC, mode, queue pairs. */
  setup?: { nic?: string; mode?: string; queuePairs?: (number | null)[] };
  /** How migrations were ordered, as a sentence for reports (interleaving, seed, blocks). */
  design?: string;
  sampling?: { mode: 'adaptive' | 'fixed'; target?: { medianCiHalfWidthPct: number; minIterations: number; maxIterations: number }; cells: CellStopRecord[] };
  /** Format version (MANIFEST_SCHEMA in schema.ts); stamped by the store on write. */
  schema?: string;
  /** The two hosts migrated between. */
  pair?: string[];
  schedule?: { blocks: number; migrations: number };
  abandonedCells?: { cell: { variant: string; vmSize: string; queuePairs: number | null }; reason: string; afterSeq: number; at: string }[];
  resumes?: unknown[];
  /** vDPA lab facts (harness/lab/prepare.ts). */
  lab?: unknown;
  /** Lab-in-a-box facts: guest build, namespaces. */
  labBox?: unknown;
  /** Runs whose lock this run took over because their harness was gone (harness/run/lock.ts). */
  recovered?: { host: string; runId: string | null; pid: number | null; controller?: string; processesEnded: number[] }[];
  /** zx site scripts: what each found, applied and undid. */
  siteSetup?: Record<string, unknown>;
  /** The shards a merged run came from. */
  mergedFrom?: Record<string, unknown>[];
}

/**
 * The source's RAM counters from query-migrate at completion (what explains a downtime: how many
 * dirty syncs it took, what was still sent while the guest was stopped). Fields a QEMU does not
 * report are absent (downtime-bytes and precopy-bytes exist since QEMU 7.1).
 */
export interface MigrationRamStats {
  transferredBytes?: number;
  /** Pages sent with their contents. */
  normalPages?: number;
  /** Zero pages, sent as a flag ("duplicate" in QMP). */
  zeroPages?: number;
  dirtySyncCount?: number;
  mbps?: number;
  precopyBytes?: number;
  /** Bytes sent while the guest was stopped. */
  downtimeBytes?: number;
}
