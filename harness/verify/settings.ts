/**
 * The metric settings a verification recomputes with: the run's own profile from its manifest
 * (the rules as run/selection.ts resolved them for the run), else the built-in rules for the
 * metrics the records name, with a note saying so.
 */
import { NETWORK_METRICS } from '../labbox/hooks.ts';
import { parseProfile } from '../profile/load.ts';
import { BUILTIN_METRICS } from '../profile/metric-rules.ts';
import type { MetricRule } from '../profile/schema.ts';
import type { IterationRecord, ManifestRead } from '../results/types.ts';
import { metricSetup } from '../run/selection.ts';
import type { MetricSettings } from './recompute.ts';

export function metricSettings(manifest: ManifestRead | null, records: IterationRecord[]): MetricSettings & { notes: string[] } {
  const notes: string[] = [];
  const text = manifest?.profile?.text;
  if (typeof text === 'string') {
    try {
      const profile = parseProfile(text, manifest?.profile?.path ?? 'profile');
      const setup = metricSetup(profile);
      const probe = profile.network ? { replyTimeout: profile.network.probe.replyTimeout, maxStrayLoss: profile.network.probe.maxStrayLoss } : undefined;
      return { rules: setup.rules, traceNames: setup.names.filter((n) => n in setup.rules), primary: setup.primary, notes, ...(probe ? { probe } : {}) };
    } catch (error) {
      notes.push(`the run's profile does not load with this version (${(error as Error).message.split('\n')[0]}): recomputed with the built-in metric rules`);
    }
  } else notes.push('no profile in the manifest: recomputed with the built-in metric rules');
  const named = new Set([...(manifest?.metrics?.names ?? []), ...records.flatMap((r) => Object.keys(r.metrics))]);
  const rules = BUILTIN_METRICS as Record<string, MetricRule>;
  const traceNames = [...named].filter((n) => n in rules);
  const unknown = [...named].filter((n) => !(n in rules) && !(NETWORK_METRICS as readonly string[]).includes(n) && n !== 'downtimeMs');
  if (unknown.length) notes.push(`metrics without a rule here, not recomputed: ${unknown.join(', ')}`);
  return { rules, traceNames, primary: manifest?.metrics?.primary ?? records[0]?.primaryMetric ?? 'downtimeMs', notes };
}
