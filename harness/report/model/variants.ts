/** Step of the report model: what differs between the variants (pure): every setting that differs, nothing that is the same. */
import type { IterationRecord, ManifestRead, MigrationSettings } from '../../results/types.ts';
import { UNKNOWN, type VariantSettingRow } from './types.ts';

/** Each variant's migration settings as its source QEMU read them back (its first record that has them); absent in runs from before they were recorded. */
export type EffectiveSettings = Record<string, MigrationSettings['source']>;

export function effectiveSettings(records: readonly IterationRecord[]): EffectiveSettings {
  const out: EffectiveSettings = {};
  for (const r of records) if (r.migrationSettings && !out[r.variant]) out[r.variant] = r.migrationSettings.source;
  return out;
}

export function variantTable(
  variants: string[],
  profileSettings: Record<string, Record<string, string>>,
  manifests: (ManifestRead | null)[],
  effective: EffectiveSettings = {},
): VariantSettingRow[] {
  const byVariant: Record<string, Record<string, string>> = Object.fromEntries(variants.map((v) => [v, { ...(profileSettings[v] ?? {}) }]));
  for (const m of manifests) {
    for (const facts of m?.variants ?? []) {
      const into = byVariant[facts.name];
      if (!into) continue;
      into['QEMU binary'] = facts.binary;
      into['QEMU version'] = [...new Set(Object.values(facts.qemuVersion ?? {}))].join(' / ') || UNKNOWN;
      for (const [k, x] of Object.entries(facts.capabilities ?? {})) into[`capabilities.${k}`] ??= String(x);
      for (const [k, x] of Object.entries(facts.parameters ?? {})) into[`parameters.${k}`] ??= String(x);
      if (facts.extraArgs?.length) into.extraArgs ??= facts.extraArgs.join(' ');
    }
  }
  // what QEMU used: the variant's own settings as they read back, everything else marked as QEMU's default
  for (const [variant, read] of Object.entries(effective)) {
    const into = byVariant[variant];
    if (!into) continue;
    for (const [k, x] of Object.entries(read.capabilities)) into[`capabilities.${k}`] ??= `${String(x)} (QEMU default)`;
    for (const [k, x] of Object.entries(read.parameters)) into[`parameters.${k}`] ??= `${typeof x === 'string' ? x : JSON.stringify(x)} (QEMU default)`;
  }
  const settings = [...new Set(Object.values(byVariant).flatMap((s) => Object.keys(s)))].sort();
  return settings
    .map((setting) => ({ setting, values: Object.fromEntries(variants.map((v) => [v, byVariant[v]?.[setting] ?? '(not set)'])) }))
    .filter((row) => new Set(Object.values(row.values)).size > 1);
}

/** Each variant's downtime-limit in ms: as QEMU read it back (its default included), else the recorded parameters or the profile. */
export function downtimeLimits(
  variants: string[],
  profileSettings: Record<string, Record<string, string>>,
  manifests: (ManifestRead | null)[],
  effective: EffectiveSettings = {},
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of variants) {
    const recorded =
      effective[v]?.parameters['downtime-limit'] ?? manifests.flatMap((m) => m?.variants ?? []).find((f) => f.name === v)?.parameters?.['downtime-limit'];
    const value = Number(recorded ?? profileSettings[v]?.['parameters.downtime-limit']);
    if (Number.isFinite(value) && value > 0) out[v] = value;
  }
  return out;
}
