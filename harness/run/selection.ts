/**
 * What a run measures (pure): the profile's matrix narrowed by the command line, its schedule and
 * its metrics. `run` and `plan` both start here, so the plan shows exactly what the run would do.
 */
import { eventsNeeded } from '../metrics/rules.ts';
import { buildSchedule, type Block } from '../migration/schedule.ts';
import { matrixVariants, metricNames } from '../profile/load.ts';
import { BUILTIN_METRICS } from '../profile/metric-rules.ts';
import type { MetricRule, Profile } from '../profile/schema.ts';
import { parseSize } from '../profile/size.ts';
import type { RunManifest } from '../results/types.ts';

/** Command-line narrowing of the profile's matrix. */
export interface MatrixNarrowing {
  iterations?: number;
  warmup?: number;
  vmSizes?: string[];
  variants?: string[];
}

export type RunSelection = ReturnType<typeof selectMatrix>;

/** Applies command-line narrowing to the profile, with errors that name what exists. */
export function selectMatrix(profile: Profile, options: MatrixNarrowing) {
  const variants = options.variants?.length ? options.variants : matrixVariants(profile);
  const known = profile.variants.map((v) => v.name);
  for (const v of variants) if (!known.includes(v)) throw new Error(`--variant ${v}: no such variant (profile has: ${known.join(', ')})`);
  const vmSizes = options.vmSizes?.length ? options.vmSizes : profile.matrix.vmSizes;
  for (const s of vmSizes) parseSize(s);
  return {
    variants,
    vmSizes,
    queuePairs: profile.matrix.queuePairs,
    // a precision target runs each cell up to its maximum; the engine stops it earlier
    iterations: options.iterations ?? profile.precision?.maxIterations ?? profile.iterations,
    warmup: options.warmup ?? profile.warmup,
  };
}

/** The narrowing a run was started with, as its manifest recorded it (resume repeats it exactly). */
export function selectionFromManifest(manifest: RunManifest): RunSelection {
  const o = manifest.options;
  return { variants: o.variants, vmSizes: o.vmSizes, queuePairs: o.queuePairs, iterations: o.iterations, warmup: o.warmup };
}

export function scheduleFor(profile: Profile, selection: RunSelection): Block[] {
  return buildSchedule({ ...selection, order: profile.design.order, blockSize: profile.design.blockSize, seed: profile.design.seed });
}

export type MetricSetup = ReturnType<typeof metricSetup>;

/** The metrics a run computes, their rules, and the trace events QEMU must emit for them. */
export function metricSetup(profile: Profile) {
  const names = metricNames(profile);
  const rules: Record<string, MetricRule> = { ...(BUILTIN_METRICS as Record<string, MetricRule>), ...profile.metrics.rules };
  const traceEvents = [...new Set([...profile.trace.events, ...eventsNeeded(names.map((n) => rules[n]))])];
  return { names, rules, traceEvents, primary: profile.metrics.primary };
}
