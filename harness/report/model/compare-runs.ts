/**
 * Before/after across two runs (measure, patch, measure again): the baseline run's records against
 * the candidate run's, per VM size and queue pairs, with the same statistics as within one run (pure).
 */
import type { IterationRecord, ManifestRead } from '../../results/types.ts';
import type { ReportSettings } from './settings.ts';
import { buildSummary } from './summary.ts';
import { type RunData, type Summary } from './types.ts';

export interface CrossRunOptions {
  /** Which variant of each run to take; default its only variant, or its profile's compare.baseline/first variant. */
  baselineVariant?: string;
  candidateVariant?: string;
}

export class CrossRunError extends Error {}

function pickVariant(run: RunData, settings: ReportSettings, wanted: string | undefined, role: string): string {
  const present = [...new Set(run.records.map((r) => r.variant))];
  if (wanted !== undefined) {
    if (!present.includes(wanted))
      throw new CrossRunError(`${role} run ${run.runId} has no variant "${wanted}" (it has: ${present.join(', ') || 'no records'})`);
    return wanted;
  }
  if (present.length === 0) throw new CrossRunError(`${role} run ${run.runId} has no migrations`);
  if (present.length === 1) return present[0];
  const ordered = [...settings.variantOrder.filter((v) => present.includes(v)), ...present.filter((v) => !settings.variantOrder.includes(v))];
  const preferred = role === 'baseline' ? settings.baseline : (settings.candidate ?? settings.baseline);
  return preferred && present.includes(preferred) ? preferred : ordered[0];
}

export function crossRunSummary(
  baseline: { run: RunData; settings: ReportSettings },
  candidate: { run: RunData; settings: ReportSettings },
  options: CrossRunOptions = {},
): Summary {
  const baseVariant = pickVariant(baseline.run, baseline.settings, options.baselineVariant, 'baseline');
  const candVariant = pickVariant(candidate.run, candidate.settings, options.candidateVariant, 'candidate');
  const same = baseVariant === candVariant;
  const baseLabel = same ? `${baseVariant} (baseline run)` : baseVariant;
  const candLabel = same ? `${candVariant} (candidate run)` : candVariant;
  const basePrimary = baseline.run.manifest?.metrics?.primary ?? baseline.run.records[0]?.primaryMetric;
  const candPrimary = candidate.run.manifest?.metrics?.primary ?? candidate.run.records[0]?.primaryMetric;
  const warnings: string[] = [];
  if (basePrimary && candPrimary && basePrimary !== candPrimary) {
    warnings.push(
      `the runs have different primary metrics (${basePrimary} and ${candPrimary}); both are compared on ${basePrimary}, which the candidate records must carry`,
    );
  }
  const relabel = (records: IterationRecord[], from: string, to: string, runIndex: number) =>
    records.filter((r) => r.variant === from).map((r) => Object.assign({}, r, { variant: to, primaryMetric: basePrimary ?? r.primaryMetric, __run: runIndex }));
  const records = [...relabel(baseline.run.records, baseVariant, baseLabel, 0), ...relabel(candidate.run.records, candVariant, candLabel, 1)];
  const settings: ReportSettings = {
    ...baseline.settings,
    variantOrder: [baseLabel, candLabel],
    baseline: baseLabel,
    candidate: candLabel,
    warnings: [...baseline.settings.warnings.map((w) => `baseline: ${w}`), ...candidate.settings.warnings.map((w) => `candidate: ${w}`), ...warnings],
  };
  const variantName = (manifest: ManifestRead, variant: string) => {
    if (manifest === baseline.run.manifest && variant === baseVariant) return baseLabel;
    if (manifest === candidate.run.manifest && variant === candVariant) return candLabel;
    return `${variant} (${manifest.runId}, not compared)`;
  };
  return buildSummary({
    runs: [baseline.run, candidate.run],
    settings,
    records,
    runOf: (r) => (r as IterationRecord & { __run?: number }).__run ?? 0,
    pair: { baseline: baseLabel, candidate: candLabel, source: `two runs: ${baseline.run.runId} (${baseVariant}) → ${candidate.run.runId} (${candVariant})` },
    variantNameInManifest: variantName,
    title: `vdpa-bench compare: ${baseline.run.runId} → ${candidate.run.runId}`,
  });
}
