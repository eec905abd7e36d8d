/**
 * A run's records → every number a report shows (pure). Renderers (text, md, html, json) only
 * format this; they compute nothing of their own.
 */
import { cellKey, cellLabel } from '../profile/cell.ts';
import { parseSize } from '../profile/size.ts';
import type { CellStopRecord, HostFacts, IterationRecord, RunManifest } from '../results/types.ts';
import { bootstrapMeanMedian, type BootstrapSettings, type Interval } from '../stats/bootstrap.ts';
import { compareSamples, type Comparison } from '../stats/compare.ts';
import { describe, median, type Description } from '../stats/describe.ts';
import { EXACT_LIMIT } from '../stats/mann-whitney.ts';
import { OUTLIER_METHOD, outlierIndexes } from '../stats/outliers.ts';
import { phaseNotes, recordPhases, type Phase } from './phases.ts';
import type { ReportSettings } from './settings.ts';

export const SUMMARY_SCHEMA = 'vdpa-bench/summary@1';
/** QMP's `downtime` from query-migrate, as a metric beside the trace rules. The colon keeps it apart from rule names. */
export const QMP_METRIC = 'qmp:downtime';
export const UNKNOWN = 'unknown';

export interface MetricInfo {
  name: string;
  label: string;
  description: string | null;
  primary: boolean;
  /** Whether it takes part in the disagreement check (QMP's source-only figure is not expected to agree). */
  checked: boolean;
}

export interface MetricStats extends Description {
  meanCI: Interval | null;
  medianCI: Interval | null;
}

export interface Disagreement {
  metric: string;
  value: number;
  primaryValue: number;
  pct: number;
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
  outlier: boolean;
  disagreements: Disagreement[];
  clockUncertaintyUs: number | null;
  phases: Phase[] | null;
  /** What the phases say that a time axis cannot (vring count, pinning overlap, QMP blackout). */
  phaseNotes: string[];
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
  outlierSeqs: number[];
  disagreementSeqs: number[];
  /** The measured ok migration closest to the cell's median (primary metric): the one the phase timeline shows. */
  representativeSeq: number | null;
  /** Why the cell stopped taking measurements, from the run's manifest; null when it does not say (older runs, merged relabelled runs). */
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
  /** The run's own sentence for its design (interleaving, seed, blocks), when its manifest has one. */
  designDescription: string | null;
  /** Adaptive or fixed sampling, in words. */
  sampling: string | null;
  seed: number | null;
  manifest: boolean;
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
    hosts: { name: string; transport: string; kernel: string; cpuModel: string; cpus: number | null; nicFirmware: string }[];
    qemu: Record<string, Record<string, string>>;
    clock: { methods: string[]; maxUncertaintyUs: number | null };
  };
  settings: {
    baseline: string | null;
    candidate: string | null;
    pairSource: string;
    noiseThresholdPct: number;
    disagreementTolerancePct: number;
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
  totals: { migrations: number; measured: number; warmup: number; ok: number; failed: number; invalid: number };
  cells: CellSummary[];
  comparisons: ComparisonRow[];
  migrations: MigrationRow[];
  warnings: string[];
}

export interface RunData {
  runId: string;
  dir: string | null;
  manifest: RunManifest | null;
  records: IterationRecord[];
  tornLines?: number[];
}

function sizeOrder(size: string): number {
  try {
    return parseSize(size);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function metricValue(record: IterationRecord, name: string): number | null {
  const value = name === QMP_METRIC ? record.qmp?.downtimeMs : record.metrics?.[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function metricList(records: IterationRecord[], manifests: (RunManifest | null)[], settings: ReportSettings): { primary: string; metrics: MetricInfo[] } {
  const primary = manifests.find((m) => m?.metrics?.primary)?.metrics.primary ?? records.find((r) => r.primaryMetric)?.primaryMetric ?? UNKNOWN;
  const names: string[] = [primary];
  for (const m of manifests) for (const n of m?.metrics?.names ?? []) if (!names.includes(n)) names.push(n);
  for (const r of records) for (const n of Object.keys(r.metrics ?? {})) if (!names.includes(n)) names.push(n);
  const metrics: MetricInfo[] = names.map((name) => ({ name, label: name, description: settings.metricDescriptions[name] ?? null, primary: name === primary, checked: true }));
  if (records.some((r) => metricValue(r, QMP_METRIC) !== null)) {
    metrics.push({ name: QMP_METRIC, label: 'QMP downtime (source side)', description: "query-migrate's downtime: measured on the source only, it leaves out the destination's device start", primary: false, checked: false });
  }
  return { primary, metrics };
}

function statsOf(values: number[], bootstrap: BootstrapSettings): MetricStats | null {
  if (values.length === 0) return null;
  const ci = bootstrapMeanMedian(values, bootstrap);
  return { ...describe(values), meanCI: ci?.mean ?? null, medianCI: ci?.median ?? null };
}

type LabNic = { model?: string; firmware?: string };
/** vDPA host facts a lab run records (manifest.lab.vdpaHosts, see harness/lab/prepare.ts). */
const labNics = (m: RunManifest | null): Record<string, LabNic | undefined> =>
  Object.fromEntries(Object.entries(((m?.lab as { vdpaHosts?: Record<string, { nic?: LabNic }> } | undefined)?.vdpaHosts) ?? {}).map(([host, facts]) => [host, facts?.nic]));

function nicFirmware(host: HostFacts, lab: Record<string, LabNic | undefined>): string {
  const candidates = [host.nicFirmware, (host.nic as { firmware?: unknown } | undefined)?.firmware, lab[host.name]?.firmware, host.firmware];
  const found = candidates.find((c) => typeof c === 'string' && c.length > 0);
  return (found as string | undefined) ?? UNKNOWN;
}

function setupOf(manifests: (RunManifest | null)[], records: IterationRecord[], variantNames: (m: RunManifest, v: string) => string, settings: ReportSettings): Summary['setup'] {
  const known = manifests.filter((m): m is RunManifest => m !== null);
  const first = known[0];
  const queuePairs = first?.setup?.queuePairs ?? [...new Set(records.map((r) => r.queuePairs ?? null))];
  const hosts: Summary['setup']['hosts'] = [];
  for (const m of known) {
    for (const h of m.hosts ?? []) {
      const row = { name: h.name, transport: h.transport ?? UNKNOWN, kernel: h.kernel ?? UNKNOWN, cpuModel: h.cpuModel ?? UNKNOWN, cpus: h.cpus ?? null, nicFirmware: nicFirmware(h, labNics(m)) };
      if (!hosts.some((x) => JSON.stringify(x) === JSON.stringify(row))) hosts.push(row);
    }
  }
  const qemu: Record<string, Record<string, string>> = {};
  for (const m of known) for (const v of m.variants ?? []) qemu[variantNames(m, v.name)] = { ...v.qemuVersion };
  const methods = [...new Set(records.map((r) => r.clock?.method).filter((x): x is string => typeof x === 'string'))];
  const uncertainties = records.map((r) => r.clock?.uncertaintyUs).filter((x): x is number => typeof x === 'number');
  const accels = [...new Set([...known.map((m) => m.accel?.used), ...records.map((r) => r.accel)].filter((x): x is string => typeof x === 'string'))];
  // A vDPA lab's manifest may have no set-up sentence: the NIC model from its host facts, the mode from the profile.
  const labModel = Object.values(labNics(first ?? null)).find((n) => n?.model)?.model;
  const vdpa = settings.nic?.kind === 'vdpa' || queuePairs.some((q) => q !== null);
  const nic = first?.setup?.nic ?? labModel ?? (settings.nic?.drivers.length ? settings.nic.drivers.join('/') : undefined);
  return {
    nic: nic ?? UNKNOWN,
    mode: first?.setup?.mode ?? (settings.nic && vdpa ? 'vhost-vDPA' : UNKNOWN),
    queuePairs,
    accel: accels.length ? accels.join(', ') : UNKNOWN,
    hosts,
    qemu,
    clock: { methods, maxUncertaintyUs: uncertainties.length ? Math.max(...uncertainties) : null },
  };
}

function runInfo(run: RunData): RunInfo {
  const m = run.manifest;
  return {
    runId: run.runId,
    dir: run.dir,
    profile: m?.profile?.name ?? UNKNOWN,
    state: m?.state ?? UNKNOWN,
    startedAt: m?.startedAt ?? run.records[0]?.startedAt ?? UNKNOWN,
    finishedAt: m?.finishedAt ?? run.records.at(-1)?.finishedAt ?? UNKNOWN,
    tool: m?.tool ? `${m.tool.name} ${m.tool.version}${m.tool.gitCommit ? ` (${m.tool.gitCommit.slice(0, 12)})` : ''}` : UNKNOWN,
    design: m?.options?.design ?? UNKNOWN,
    designDescription: m?.design ?? null,
    sampling: samplingText(m),
    seed: m?.options?.seed ?? null,
    manifest: m !== null,
  };
}

function samplingText(m: RunManifest | null): string | null {
  const sampling = m?.sampling;
  if (!sampling) return null;
  if (sampling.mode === 'fixed' || !sampling.target) return `fixed count: ${m?.options?.iterations ?? UNKNOWN} measured migrations per cell`;
  const t = sampling.target;
  return `adaptive: a cell stops when its median's 95% CI half-width is below ${t.medianCiHalfWidthPct}% of the median (at least ${t.minIterations}, at most ${t.maxIterations} measured migrations)`;
}

const pctText = (v: number | null) => (v === null ? 'too few values for a median 95% CI' : `median 95% CI ±${v}%`);

/** Each cell's stopping reason from a manifest (cells by label); abandonment wins over the sampler's record. */
function cellStops(m: RunManifest | null): Map<string, CellStop> {
  const stops = new Map<string, CellStop>();
  if (!m) return stops;
  const target = m.sampling?.target?.medianCiHalfWidthPct;
  for (const c of m.sampling?.cells ?? []) {
    const after = `after ${c.measured} measured (${c.usable} usable)`;
    const text =
      c.reason === 'precision-reached'
        ? `precision reached: ${pctText(c.ciHalfWidthPct)} < ${target ?? UNKNOWN}% ${after}`
        : c.reason === 'max-iterations'
          ? `maximum count reached before the precision: ${pctText(c.ciHalfWidthPct)}${target !== undefined ? ` (target ${target}%)` : ''} ${after}`
          : c.reason === 'fixed-count'
            ? `fixed count: ${c.measured} measured, ${pctText(c.ciHalfWidthPct)}`
            : c.reason === 'interrupted'
              ? `run interrupted ${after}`
              : `its guest boot was abandoned ${after}`;
    stops.set(c.cell, { reason: c.reason, text });
  }
  const abandoned = (m.abandonedCells as { cell: { variant: string; vmSize: string; queuePairs: number | null }; reason: string; afterSeq: number }[] | undefined) ?? [];
  for (const a of abandoned) stops.set(cellLabel(a.cell), { reason: 'abandoned', text: `abandoned after migration ${a.afterSeq}: ${a.reason}` });
  return stops;
}

export interface SummaryInput {
  runs: RunData[];
  settings: ReportSettings;
  /** Records as reported (for a two-run comparison, relabelled so the variants tell the runs apart). */
  records: IterationRecord[];
  /** Record → the run it came from (index into runs). */
  runOf?: (record: IterationRecord) => number;
  /** Forced pair (two-run comparison); otherwise from the settings. */
  pair?: { baseline: string; candidate: string; source: string };
  variantNameInManifest?: (manifest: RunManifest, variant: string) => string;
  title?: string;
}

export function buildSummary(input: SummaryInput): Summary {
  const { settings, records } = input;
  const manifests = input.runs.map((r) => r.manifest);
  const warnings = [...settings.warnings];
  input.runs.forEach((run) => {
    if (run.tornLines?.length) warnings.push(`${run.runId}: ${run.tornLines.length} torn line(s) in iterations.ndjson (line ${run.tornLines.join(', ')}) left out`);
    for (const v of run.manifest?.variants ?? []) {
      if (v.traceEventsMissing?.length) warnings.push(`${v.name}: this QEMU cannot trace ${v.traceEventsMissing.join(', ')}; a metric that needs them cannot be computed for it`);
    }
    if (run.manifest?.state && run.manifest.state !== 'completed') warnings.push(`${run.runId}: run state is "${run.manifest.state}"${run.manifest.stateReason ? ` (${run.manifest.stateReason})` : ''}: the data may be partial`);
  });
  const { primary, metrics } = metricList(records, manifests, settings);

  // Variants in profile order, then any the profile does not know in order of appearance.
  const present = [...new Set(records.map((r) => r.variant))];
  const variants = [...settings.variantOrder.filter((v) => present.includes(v)), ...present.filter((v) => !settings.variantOrder.includes(v))];

  let pair: { baseline: string; candidate: string; source: string } | null = input.pair ?? null;
  if (!pair) {
    const wantedBaseline = settings.baseline ?? variants[0];
    const wantedCandidate = settings.candidate ?? variants.find((v) => v !== wantedBaseline);
    const configured = settings.baseline !== undefined || settings.candidate !== undefined;
    const missing = [wantedBaseline, wantedCandidate].filter((v) => v !== undefined && !present.includes(v));
    if (missing.length) warnings.push(`compare: variant ${missing.map((v) => `"${v}"`).join(' and ')} has no migrations in this run: no before/after comparison`);
    else if (wantedBaseline !== undefined && wantedCandidate !== undefined && wantedBaseline !== wantedCandidate) {
      pair = { baseline: wantedBaseline, candidate: wantedCandidate, source: configured ? 'profile compare: {baseline, candidate}' : `default: the first two variants in ${settings.variantOrder.length ? 'profile order' : 'the order they appear in the data'}` };
    } else if (variants.length < 2) warnings.push('one variant only: no before/after comparison');
  }

  const runIndex = (r: IterationRecord) => input.runOf?.(r) ?? 0;
  const ordered = [...records].sort((a, b) => runIndex(a) - runIndex(b) || a.seq - b.seq);
  const rows: MigrationRow[] = ordered.map((r) => ({
    seq: r.seq,
    run: input.runs[runIndex(r)]?.runId ?? UNKNOWN,
    block: r.block,
    cell: cellKey(r),
    variant: r.variant,
    vmSize: r.vmSize,
    queuePairs: r.queuePairs ?? null,
    iteration: r.iteration,
    warmup: Boolean(r.warmup),
    status: r.status,
    reason: r.reason ?? null,
    from: r.from,
    to: r.to,
    startedAt: r.startedAt ?? null,
    values: Object.fromEntries(metrics.map((m) => [m.name, metricValue(r, m.name)])),
    outlier: false,
    disagreements: [],
    clockUncertaintyUs: typeof r.clock?.uncertaintyUs === 'number' ? r.clock.uncertaintyUs : null,
    phases: recordPhases(r),
    phaseNotes: phaseNotes(r),
  }));

  // Disagreement: each checked metric against the primary, on ok migrations.
  for (const row of rows) {
    const p = row.values[primary];
    if (row.status !== 'ok' || p === null || p === undefined || p === 0) continue;
    for (const m of metrics) {
      const v = row.values[m.name];
      if (m.primary || !m.checked || v === null) continue;
      const pct = (Math.abs(v - p) / Math.abs(p)) * 100;
      if (pct > settings.disagreementTolerancePct) row.disagreements.push({ metric: m.name, value: v, primaryValue: p, pct });
    }
  }

  const stopsByRun = new Map(input.runs.map((run) => [run.runId, cellStops(run.manifest)]));
  const cellOrder = [...new Map(rows.map((r) => [r.cell, r])).values()].sort(
    (a, b) => variants.indexOf(a.variant) - variants.indexOf(b.variant) || sizeOrder(a.vmSize) - sizeOrder(b.vmSize) || a.vmSize.localeCompare(b.vmSize) || (a.queuePairs ?? -1) - (b.queuePairs ?? -1),
  );
  const cells: CellSummary[] = cellOrder.map((first) => {
    const inCell = rows.filter((r) => r.cell === first.cell);
    const measured = inCell.filter((r) => !r.warmup);
    const ok = measured.filter((r) => r.status === 'ok');
    const cellMetrics: Record<string, MetricStats | null> = {};
    for (const m of metrics) cellMetrics[m.name] = statsOf(ok.map((r) => r.values[m.name]).filter((v): v is number => v !== null), settings.bootstrap);
    const primaryRows = ok.filter((r) => r.values[primary] !== null);
    const primaryValues = primaryRows.map((r) => r.values[primary]!);
    for (const i of outlierIndexes(primaryValues)) primaryRows[i].outlier = true;
    let representativeSeq: number | null = null;
    if (primaryValues.length) {
      const mid = median(primaryValues);
      const withPhases = primaryRows.filter((r) => r.phases);
      const pool = withPhases.length ? withPhases : primaryRows;
      representativeSeq = pool.reduce((best, r) => (Math.abs(r.values[primary]! - mid) < Math.abs(best.values[primary]! - mid) ? r : best)).seq;
    }
    const measuredCount = measured.length;
    return {
      key: first.cell,
      label: cellLabel(first),
      variant: first.variant,
      vmSize: first.vmSize,
      queuePairs: first.queuePairs,
      counts: {
        measured: measuredCount,
        ok: ok.length,
        failed: measured.filter((r) => r.status === 'failed').length,
        invalid: measured.filter((r) => r.status === 'invalid').length,
        warmup: inCell.length - measuredCount,
        warmupNotOk: inCell.filter((r) => r.warmup && r.status !== 'ok').length,
      },
      successRate: measuredCount ? ok.length / measuredCount : null,
      metrics: cellMetrics,
      outlierSeqs: primaryRows.filter((r) => r.outlier).map((r) => r.seq),
      disagreementSeqs: ok.filter((r) => r.disagreements.length).map((r) => r.seq),
      representativeSeq,
      stop: stopsByRun.get(first.run)?.get(cellLabel(first)) ?? null,
    };
  });

  const comparisons: ComparisonRow[] = [];
  if (pair) {
    const groups = [...new Map(cells.map((c) => [`${c.vmSize}|${c.queuePairs}`, c])).values()];
    for (const group of groups) {
      const find = (variant: string) => cells.find((c) => c.variant === variant && c.vmSize === group.vmSize && c.queuePairs === group.queuePairs);
      const base = find(pair.baseline);
      const cand = find(pair.candidate);
      if (!base && !cand) continue;
      const row: ComparisonRow = {
        vmSize: group.vmSize,
        queuePairs: group.queuePairs,
        baseline: pair.baseline,
        candidate: pair.candidate,
        baselineCell: base?.key ?? cellKey({ variant: pair.baseline, vmSize: group.vmSize, queuePairs: group.queuePairs }),
        candidateCell: cand?.key ?? cellKey({ variant: pair.candidate, vmSize: group.vmSize, queuePairs: group.queuePairs }),
        metrics: {},
      };
      for (const m of metrics) {
        const values = (cellKey: string) => rows.filter((r) => r.cell === cellKey && !r.warmup && r.status === 'ok' && r.values[m.name] !== null).map((r) => r.values[m.name]!);
        const b = values(row.baselineCell);
        const c = values(row.candidateCell);
        if (b.length === 0 || c.length === 0) {
          const side = b.length === 0 ? pair.baseline : pair.candidate;
          row.metrics[m.name] = { error: `no ok ${m.name} values for ${side} at ${group.vmSize}` };
        } else {
          row.metrics[m.name] = compareSamples(b, c, { alpha: settings.alpha, noiseThresholdPct: settings.noiseThresholdPct });
        }
      }
      comparisons.push(row);
    }
  }

  const measured = rows.filter((r) => !r.warmup);
  return {
    schema: SUMMARY_SCHEMA,
    title: input.title ?? `vdpa-bench report: ${input.runs.map((r) => r.runId).join(' vs ')}`,
    runs: input.runs.map(runInfo),
    setup: setupOf(manifests, records, input.variantNameInManifest ?? ((_, v) => v), settings),
    settings: {
      baseline: pair?.baseline ?? null,
      candidate: pair?.candidate ?? null,
      pairSource: pair?.source ?? 'none',
      noiseThresholdPct: settings.noiseThresholdPct,
      disagreementTolerancePct: settings.disagreementTolerancePct,
      alpha: settings.alpha,
      confidence: settings.confidence,
      bootstrap: settings.bootstrap,
      outlierMethod: OUTLIER_METHOD,
      testMethod: `two-sided Mann–Whitney U; exact permutation distribution (mid-ranks when tied) while both samples are below ${EXACT_LIMIT}, normal approximation with tie and continuity corrections above`,
      shiftMethod: `Hodges–Lehmann shift (median of all pairwise differences candidate − baseline) with the distribution-free interval that inverts the Mann–Whitney test (exact below ${EXACT_LIMIT} per sample)`,
      ciMethod: `percentile bootstrap, ${settings.bootstrap.resamples} resamples, seed ${settings.bootstrap.seed}, ${Math.round(settings.bootstrap.confidence * 100)}% intervals`,
      settingsSource: settings.source === 'profile' ? "the run's profile" : 'defaults',
    },
    metrics,
    primary,
    variants,
    totals: {
      migrations: rows.length,
      measured: measured.length,
      warmup: rows.length - measured.length,
      ok: measured.filter((r) => r.status === 'ok').length,
      failed: measured.filter((r) => r.status === 'failed').length,
      invalid: measured.filter((r) => r.status === 'invalid').length,
    },
    cells,
    comparisons,
    migrations: rows,
    warnings,
  };
}
