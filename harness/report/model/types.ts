/**
 * The report model: every number and sentence a report shows, computed once from the records
 * (see summary.ts for the steps). Renderers (text, md, html, json) only format this.
 */
import type { CellStopRecord, IterationRecord, ManifestRead } from '../../results/types.ts';
import type { BootstrapSettings, Interval } from '../../stats/bootstrap.ts';
import type { Comparison } from '../../stats/compare.ts';
import type { Decomposition } from '../../stats/decompose.ts';
import type { Description } from '../../stats/describe.ts';
import type { TwoGroups } from '../../stats/groups.ts';
import type { HodgesLehmannResult } from '../../stats/hodges-lehmann.ts';
import type { LostRun } from '../../metrics/network.ts';
import type { Phase } from './phases.ts';

export const SUMMARY_SCHEMA = 'vdpa-bench/summary@2';
/** QMP's `downtime` from query-migrate, as a metric beside the trace rules. The colon keeps it apart from rule names. */
export const QMP_METRIC = 'qmp:downtime';
export const UNKNOWN = 'unknown';
/**
 * Below this many values a cell gets its points and median only: no confidence interval, no p95,
 * no box. A percentile bootstrap of 5 values returns about their min and max, and a p95 of 5 is
 * their maximum; printing them as "95%" figures overstates what the sample knows.
 */
export const MIN_N_FOR_INTERVAL = 6;
export const SMALL_N_TEXT = 'n too small for an interval';

export interface MetricInfo {
  name: string;
  label: string;
  description: string | null;
  primary: boolean;
  /** Whether it takes part in the agreement check against the primary (QMP is checked as a lower bound instead). */
  checked: boolean;
}

export interface MetricStats extends Omit<Description, 'p95'> {
  /** null below MIN_N_FOR_INTERVAL. */
  p95: number | null;
  meanCI: Interval | null;
  medianCI: Interval | null;
  /** False below MIN_N_FOR_INTERVAL: renderers show points and the median only. */
  intervals: boolean;
}

export interface Disagreement {
  metric: string;
  value: number;
  primaryValue: number;
  /** How far this difference is from the pair's systematic offset, ms. */
  offFromOffsetMs: number;
  toleranceMs: number;
}

export interface MigrationRow {
  seq: number;
  run: string;
  block: number;
  cell: string;
  variant: string;
  vmSize: string;
  queuePairs: number | null;
  iteration: number;
  warmup: boolean;
  status: IterationRecord['status'];
  reason: string | null;
  from: string;
  to: string;
  startedAt: string | null;
  values: Record<string, number | null>;
  /** QMP's total time, bytes transferred, bytes sent while stopped, dirty-sync rounds (source side). */
  cost: MigrationCost;
  outlier: boolean;
  disagreements: Disagreement[];
  clockUncertaintyUs: number | null;
  /** Destination minus source clock, µs, as applied to this migration's destination times. */
  clockOffsetUs: number | null;
  /** Why each metric without a value could not be computed (the record's metricErrors). */
  metricErrors: Record<string, string>;
  phases: Phase[] | null;
  /** What the phases say that a time axis cannot (vring count, pinning overlap, QMP blackout). */
  phaseNotes: string[];
}

export interface MigrationCost {
  totalTimeMs: number | null;
  transferredBytes: number | null;
  downtimeBytes: number | null;
  dirtySyncCount: number | null;
}

export interface CellSummary {
  key: string;
  label: string;
  variant: string;
  vmSize: string;
  queuePairs: number | null;
  counts: { measured: number; ok: number; failed: number; invalid: number; warmup: number; warmupNotOk: number };
  /** ok / measured; null without measured migrations. */
  successRate: number | null;
  metrics: Record<string, MetricStats | null>;
  /** Medians over measured ok migrations of the cost side. */
  cost: Record<keyof MigrationCost, number | null>;
  /** The variant's configured downtime-limit, ms, when its parameters set one. */
  downtimeLimitMs: number | null;
  outlierSeqs: number[];
  disagreementSeqs: number[];
  /** The measured ok migration closest to the cell's median (primary metric): the one the phase timeline shows. */
  representativeSeq: number | null;
  /** Why the cell stopped taking measurements, from the run's manifest; null when it does not say. */
  stop: CellStop | null;
}

export interface CellStop {
  reason: CellStopRecord['reason'] | 'abandoned';
  /** The reason in words, e.g. "precision reached: median 95% CI ±2.1% < 5% after 14". */
  text: string;
}

export interface ComparisonRow {
  vmSize: string;
  queuePairs: number | null;
  baseline: string;
  candidate: string;
  baselineCell: string;
  candidateCell: string;
  /** Per metric: the comparison, or why there is none. */
  metrics: Record<string, Comparison | { error: string }>;
}

export interface RunInfo {
  runId: string;
  dir: string | null;
  profile: string;
  state: string;
  startedAt: string;
  finishedAt: string;
  tool: string;
  design: string;
  /** The profile's wish for the design, as the manifest worded it (the report states what ran: Summary.order). */
  designDescription: string | null;
  /** Adaptive or fixed sampling, in words. */
  sampling: string | null;
  seed: number | null;
  manifest: boolean;
}

/** A warning that travels with the number: what, and the evidence a reader can check. */
export interface ReportWarning {
  kind:
    | 'data'
    | 'damaged-guest'
    | 'failed'
    | 'emulated-cpu'
    | 'accel-fallback'
    | 'clock'
    | 'small-n'
    | 'over-limit'
    | 'selection-bias'
    | 'bimodal'
    | 'design'
    | 'qmp-above-span'
    | 'comparison';
  message: string;
  evidence: string[];
}

/** The order that actually ran, per VM size (from seq and block of the records). */
export interface OrderGroup {
  vmSize: string;
  queuePairs: number | null;
  /** Blocks in run order: variant and measured count. */
  blocks: { variant: string; measured: number }[];
  /** Each variant's mean run-order position (seq) over its measured migrations. */
  meanPosition: Record<string, number>;
  /** Largest difference of mean positions, in migrations. */
  spread: number;
  /** Whether the variants alternated (more than one block per cell, both orders seen). */
  interleaved: boolean;
  balanced: boolean;
}

export interface RunOrder {
  groups: OrderGroup[];
  /** One sentence for Methods, written from the records. */
  sentence: string;
  /** Whether seq came from the records or from the file order. */
  seqSource: 'records' | 'file order';
}

/** Agreement of one metric with the primary over ok measured migrations (Bland–Altman). */
export interface AgreementRow {
  metric: string;
  n: number;
  /** Mean of metric − primary, ms: the systematic offset. */
  meanDiffMs: number | null;
  /** Mean ± 1.96 sd of the differences. */
  limits: Interval | null;
  /** The pair in words: agrees, steady offset, or varies apart. */
  verdict: string;
  /** Migrations whose difference lies outside both the tolerance and the limits of agreement. */
  flaggedSeqs: number[];
}

export interface VariantSettingRow {
  setting: string;
  values: Record<string, string>;
}

export interface Summary {
  schema: typeof SUMMARY_SCHEMA;
  title: string;
  runs: RunInfo[];
  setup: {
    nic: string;
    mode: string;
    queuePairs: (number | null)[];
    accel: string;
    /** Why that accelerator: each run's accel reason from its manifest (the probe's verdict, or the first boot's fallback). */
    accelReasons: string[];
    /** Runs that switched from KVM to TCG at their first boot: QEMU's words. */
    accelFallbacks: { runId: string; host: string; reason: string }[];
    hosts: { name: string; transport: string; kernel: string; cpuModel: string; cpus: number | null; nicFirmware: string }[];
    /** The profile's vm.guest.kind (firmware, pxe, kernel, disk, builtin-linux), unknown without a profile. */
    guest: string;
    /** Where each host was reached, from the profile (an ssh address, or this machine). */
    hostAddresses: Record<string, string>;
    qemu: Record<string, Record<string, string>>;
    clock: { methods: string[]; maxUncertaintyUs: number | null };
  };
  /** The profile's `compare.purpose`, present only when this report compares the pair it is about. */
  purpose?: string;
  /** One sentence: accelerator, hosts, NIC, QEMU versions. */
  platform: string;
  settings: {
    baseline: string | null;
    candidate: string | null;
    pairSource: string;
    noiseThresholdPct: number;
    disagreementTolerancePct: number;
    agreementToleranceMs: number;
    minNForInterval: number;
    alpha: number;
    confidence: number;
    bootstrap: BootstrapSettings;
    outlierMethod: string;
    testMethod: string;
    shiftMethod: string;
    ciMethod: string;
    settingsSource: string;
  };
  metrics: MetricInfo[];
  primary: string;
  variants: string[];
  /** Every setting that differs between the variants; nothing that is the same. */
  variantTable: VariantSettingRow[];
  order: RunOrder;
  agreement: AgreementRow[];
  totals: { migrations: number; measured: number; warmup: number; ok: number; failed: number; invalid: number };
  cells: CellSummary[];
  comparisons: ComparisonRow[];
  migrations: MigrationRow[];
  warnings: ReportWarning[];
  /** Only when a run directory holds probe logs (probes/NNNN.txt). */
  probeTimelines?: ProbeTimelines;
  /** What the change costs beside what it gains (trade-off.ts); only with a compared pair. */
  tradeOff?: TradeOff;
}

/** The trade-off block (trade-off.ts): what the change costs beside what it gains. */
export interface SampleFigures {
  n: number;
  median: number;
  min: number;
  max: number;
}

export interface TradeOffFigure {
  key: string;
  label: string;
  baseline: SampleFigures | null;
  candidate: SampleFigures | null;
  /** candidate − baseline; null with `error` when a side has no values. */
  shift: HodgesLehmannResult | null;
  error?: string;
}

export interface CellGroups {
  /** The cell's label, and its key (CellSummary.key). */
  cell: string;
  cellKey: string;
  variant: string;
  groups: TwoGroups;
  /** The phase whose duration differs most between the groups, and its range in each. */
  explainedBy: { phase: string; low: [number, number]; high: [number, number] } | null;
}

export interface TradeOffRow {
  vmSize: string;
  queuePairs: number | null;
  figures: TradeOffFigure[];
  /** The primary's mean shift by phase; null when either side has no attributed migration. */
  decomposition: Decomposition | null;
  /** Migrations whose attribution was derived at report time from their recorded phases (recorded before it was stored). */
  derivedAttributions: number;
}

export interface TradeOff {
  rows: TradeOffRow[];
  groups: CellGroups[];
}

export interface RunData {
  runId: string;
  dir: string | null;
  manifest: ManifestRead | null;
  records: IterationRecord[];
  tornLines?: number[];
  /** What the reader took leniently (unknown fields kept, empty qmp objects), for the warnings. */
  readWarnings?: string[];
  /** Whether the records carried seq (otherwise numbered in file order on read). */
  seqFromFile?: boolean;
  /** Per seq, the part of its probe log around the switchover (or why there is none); absent when the run directory has no probes/. */
  probeLogs?: Record<number, ProbeWindow | { error: string }>;
}

/** The part of one migration's probe log around the switchover (load.ts keeps only this much of the file). */
export interface ProbeWindow {
  /** The log read, relative to the run directory when it lies inside it. */
  file: string;
  rateHz: number;
  replyTimeoutMs: number;
  /** The source freeze (start of the primary downtime window), µs since the epoch, source clock. */
  freezeUs: number;
  /** End of the primary downtime window, µs. */
  resumeUs: number;
  /** The window kept, µs. */
  fromUs: number;
  toUs: number;
  /** Probes sent inside the window that were answered within the reply timeout. */
  answered: { sentUs: number; replyMs: number }[];
  /** Every run of lost probes that overlaps the window, exact (computed over the whole log). */
  lostRuns: LostRun[];
  lateSends: number;
  /** How the prober's clock relates to the source trace's (the record's clock method). */
  clock: string;
}

/** A cell's probe timeline around the switchover: one representative migration, thinned for drawing. */
export interface ProbeTimeline {
  cell: string;
  label: string;
  run: string;
  seq: number;
  primaryMs: number;
  /** Why this migration: the cell's lower median among the ok migrations with a probe log. */
  chosen: string;
  file: string;
  binMs: number;
  /** Per bin of send times (ms from the source freeze): the longest reply time and how many probes were answered. */
  bins: { fromMs: number; maxReplyMs: number; answered: number }[];
  lostRuns: { fromMs: number; toMs: number; probes: number; open: boolean }[];
  /** The primary downtime window, ms from the source freeze (starts at 0). */
  downtimeMs: { from: number; to: number };
  rangeMs: { from: number; to: number };
  rateHz: number;
  replyTimeoutMs: number;
  clock: string;
}

export interface ProbeTimelines {
  panels: ProbeTimeline[];
  /** Migrations whose probe log could not be used, and why. */
  missing: { run: string; seq: number; reason: string }[];
}

/** A migration's value of a metric, if it is a finite number. */
export const finite = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
