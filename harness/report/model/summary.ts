/**
 * A run's records → the report model (pure), built step by step: metrics and set-up, one row per
 * migration, metric agreement, cells, before/after comparisons, the order as run, the variant
 * table, warnings. Renderers (text, md, html, json) only format the result.
 */
import { cellKey } from '../../profile/cell.ts';
import type { IterationRecord, ManifestRead } from '../../results/types.ts';
import { EXACT_LIMIT } from '../../stats/mann-whitney.ts';
import { OUTLIER_METHOD } from '../../stats/outliers.ts';
import { AGREEMENT_TOLERANCE_MS, metricAgreement } from './agreement.ts';
import { cellSummaries } from './cells.ts';
import { choosePair, comparisonsOf, type Pair } from './comparisons.ts';
import { runOrder } from './order.ts';
import { tradeOff } from './trade-off.ts';
import { probeTimelines } from './probe-timeline.ts';
import { migrationRows } from './rows.ts';
import { cellStops, metricList, platformSentence, runInfo, setupOf } from './run-info.ts';
import type { ReportSettings } from './settings.ts';
import { downtimeLimits, effectiveSettings, variantTable } from './variants.ts';
import { MIN_N_FOR_INTERVAL, SUMMARY_SCHEMA, type RunData, type Summary } from './types.ts';
import { dataWarnings, runWarnings } from './warnings.ts';

export interface SummaryInput {
  runs: RunData[];
  settings: ReportSettings;
  /** Records as reported (for a two-run comparison, relabelled so the variants tell the runs apart). */
  records: IterationRecord[];
  /** Record → the run it came from (index into runs). */
  runOf?: (record: IterationRecord) => number;
  /** Forced pair (two-run comparison); otherwise from the settings. */
  pair?: Pair;
  variantNameInManifest?: (manifest: ManifestRead, variant: string) => string;
  title?: string;
}

/** Variants in profile order, then any the profile does not know in order of appearance. */
function variantOrder(records: IterationRecord[], settings: ReportSettings): string[] {
  const present = [...new Set(records.map((r) => r.variant))];
  return [...settings.variantOrder.filter((v) => present.includes(v)), ...present.filter((v) => !settings.variantOrder.includes(v))];
}

function settingsOf(settings: ReportSettings, pair: Pair | null): Summary['settings'] {
  return {
    baseline: pair?.baseline ?? null,
    candidate: pair?.candidate ?? null,
    pairSource: pair?.source ?? 'none',
    noiseThresholdPct: settings.noiseThresholdPct,
    disagreementTolerancePct: settings.disagreementTolerancePct,
    agreementToleranceMs: AGREEMENT_TOLERANCE_MS,
    minNForInterval: MIN_N_FOR_INTERVAL,
    alpha: settings.alpha,
    confidence: settings.confidence,
    bootstrap: settings.bootstrap,
    outlierMethod: OUTLIER_METHOD,
    testMethod: `two-sided Mann–Whitney U; exact permutation distribution (mid-ranks when tied) while both samples are below ${EXACT_LIMIT}, normal approximation with tie and continuity corrections above`,
    shiftMethod: `Hodges–Lehmann shift (median of all pairwise differences candidate − baseline) with the distribution-free interval that inverts the Mann–Whitney test (exact below ${EXACT_LIMIT} per sample)`,
    ciMethod: `percentile bootstrap, ${settings.bootstrap.resamples} resamples, seed ${settings.bootstrap.seed}, ${Math.round(settings.bootstrap.confidence * 100)}% intervals, from n = ${MIN_N_FOR_INTERVAL} on`,
    settingsSource: settings.source === 'profile' ? "the run's profile" : 'defaults',
  };
}

export function buildSummary(input: SummaryInput): Summary {
  const { settings, records } = input;
  const manifests = input.runs.map((r) => r.manifest);
  const warnings = runWarnings(input.runs, settings.warnings);
  const { primary, metrics } = metricList(records, manifests, settings);
  const variants = variantOrder(records, settings);
  const pair = input.pair ?? choosePair(variants, settings, warnings);
  const runOf = (r: IterationRecord) => input.runOf?.(r) ?? 0;
  const effective = effectiveSettings(records);

  const rows = migrationRows(records, input.runs, metrics, runOf);
  const agreement = metricAgreement(rows, metrics, primary, settings.disagreementTolerancePct);
  const stops = new Map(input.runs.map((run) => [run.runId, cellStops(run.manifest)]));
  const cells = cellSummaries({
    rows,
    metrics,
    primary,
    variants,
    bootstrap: settings.bootstrap,
    downtimeLimits: downtimeLimits(variants, settings.variantSettings, manifests, effective),
    stopOf: (run, label) => stops.get(run)?.get(label) ?? null,
  });
  const comparisons = comparisonsOf(pair, { cells, rows, metrics }, settings);
  const costs = comparisons.length ? tradeOff({ records, cellOf: cellKey, comparisons, cells, primary, bootstrap: settings.bootstrap }) : null;
  const order = runOrder(rows, variants, input.runs.some((r) => r.seqFromFile) ? 'file order' : 'records', input.runs.length);
  const setup = setupOf(manifests, records, input.variantNameInManifest ?? ((_, v) => v), settings);
  const measured = rows.filter((r) => !r.warmup);
  warnings.push(...dataWarnings({ cells, primary, setup, migrations: rows, comparisons, order }));
  const probes = probeTimelines(input.runs, rows, cells, primary);
  return {
    schema: SUMMARY_SCHEMA,
    title: input.title ?? `vdpa-bench report: ${input.runs.map((r) => r.runId).join(' vs ')}`,
    runs: input.runs.map(runInfo),
    setup,
    // a two-run comparison (input.pair) compares runs, not the pair the profile's sentence is about
    ...(settings.purpose && pair && !input.pair ? { purpose: settings.purpose } : {}),
    platform: platformSentence(setup),
    settings: settingsOf(settings, pair),
    metrics,
    primary,
    variants,
    variantTable: variantTable(variants, settings.variantSettings, manifests, effective),
    order,
    agreement,
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
    ...(probes ? { probeTimelines: probes } : {}),
    ...(costs ? { tradeOff: costs } : {}),
  };
}
