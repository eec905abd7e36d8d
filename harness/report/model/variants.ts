/** Step of the report model: what differs between the variants (pure): every setting that differs, nothing that is the same. */
import type { ManifestRead } from '../../results/types.ts';
import { UNKNOWN, type VariantSettingRow } from './types.ts';

export function variantTable(
  variants: string[],
  profileSettings: Record<string, Record<string, string>>,
  manifests: (ManifestRead | null)[],
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
  const settings = [...new Set(Object.values(byVariant).flatMap((s) => Object.keys(s)))].sort();
  return settings
    .map((setting) => ({ setting, values: Object.fromEntries(variants.map((v) => [v, byVariant[v]?.[setting] ?? '(not set)'])) }))
    .filter((row) => new Set(Object.values(row.values)).size > 1);
}

/** Each variant's downtime-limit in ms, from the recorded QEMU parameters or the profile. */
export function downtimeLimits(
  variants: string[],
  profileSettings: Record<string, Record<string, string>>,
  manifests: (ManifestRead | null)[],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of variants) {
    const recorded = manifests.flatMap((m) => m?.variants ?? []).find((f) => f.name === v)?.parameters?.['downtime-limit'];
    const value = Number(recorded ?? profileSettings[v]?.['parameters.downtime-limit']);
    if (Number.isFinite(value) && value > 0) out[v] = value;
  }
  return out;
}
