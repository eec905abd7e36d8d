/**
 * Report settings from the profile recorded in the manifest (pure). Data from other labs may come
 * without a manifest or with a profile this version cannot read: then the defaults apply and the
 * report says so.
 */
import { parse as parseYaml } from 'yaml';
import { NETWORK_METRIC_DESCRIPTIONS } from '../../metrics/network.ts';
import { BUILTIN_METRICS } from '../../profile/metric-rules.ts';
import { parseProfile } from '../../profile/load.ts';
import type { ManifestRead } from '../../results/types.ts';
import { DEFAULT_BOOTSTRAP, type BootstrapSettings } from '../../stats/bootstrap.ts';

export interface ReportSettings {
  /** Variants in profile order (those absent from the data are left out later). */
  variantOrder: string[];
  baseline?: string;
  candidate?: string;
  /** The profile's `compare.purpose`: one sentence on what the comparison is, printed first. */
  purpose?: string;
  noiseThresholdPct: number;
  disagreementTolerancePct: number;
  alpha: number;
  confidence: number;
  bootstrap: BootstrapSettings;
  metricDescriptions: Record<string, string>;
  /** From the profile: the guest NIC kind and the hosts' vDPA drivers, for the set-up sentence when the manifest has no set-up. */
  nic?: { kind: string; drivers: string[] };
  /** From the profile: what the guest was (vm.guest.kind) and where each host was reached (ssh to a loopback address: this machine). */
  guest?: string;
  hostAddresses?: Record<string, string>;
  /** Per variant, every setting the profile gives it, flattened ("parameters.downtime-limit": "300"). */
  variantSettings: Record<string, Record<string, string>>;
  /** Where the settings came from, for the methods section. */
  source: 'profile' | 'defaults';
  warnings: string[];
}

export const DEFAULT_NOISE_THRESHOLD_PCT = 5;
export const DEFAULT_DISAGREEMENT_TOLERANCE_PCT = 25;

const builtinDescriptions = (): Record<string, string> => ({
  ...Object.fromEntries(Object.entries(BUILTIN_METRICS).map(([name, rule]) => [name, rule.description])),
  ...NETWORK_METRIC_DESCRIPTIONS,
  downtimeMs: "the primary downtime as the record states it (downtimeMs, the record format's primary metric)",
});

export function reportSettings(manifest: ManifestRead | null): ReportSettings {
  const settings: ReportSettings = {
    variantOrder: manifest?.options?.variants ?? [],
    noiseThresholdPct: DEFAULT_NOISE_THRESHOLD_PCT,
    disagreementTolerancePct: DEFAULT_DISAGREEMENT_TOLERANCE_PCT,
    alpha: 0.05,
    confidence: 0.95,
    bootstrap: DEFAULT_BOOTSTRAP,
    metricDescriptions: builtinDescriptions(),
    source: 'defaults',
    variantSettings: {},
    warnings: [],
  };
  const text = manifest?.profile?.text;
  if (typeof text !== 'string') {
    const compare = manifest?.compare;
    if (compare?.baseline) settings.baseline = compare.baseline;
    if (compare?.candidate) settings.candidate = compare.candidate;
    if (compare?.noiseThresholdPct !== undefined) settings.noiseThresholdPct = compare.noiseThresholdPct;
    settings.warnings.push(
      !manifest
        ? 'no manifest.json: set-up, hosts and versions are unknown, settings are the defaults'
        : compare
          ? "the manifest carries no profile: the pair to compare is the manifest's compare, tolerances are the defaults"
          : 'the manifest carries no profile: compare settings and tolerances are the defaults',
    );
    return settings;
  }
  try {
    const profile = parseProfile(text, manifest?.profile?.path ?? 'profile');
    settings.variantOrder = profile.matrix.variants ?? profile.variants.map((v) => v.name);
    settings.baseline = profile.compare.baseline;
    settings.candidate = profile.compare.candidate;
    if (profile.compare.purpose) settings.purpose = profile.compare.purpose;
    settings.noiseThresholdPct = profile.compare.noiseThresholdPct;
    settings.disagreementTolerancePct = profile.metrics.disagreementTolerancePct;
    for (const [name, rule] of Object.entries(profile.metrics.rules)) if (rule.description) settings.metricDescriptions[name] = rule.description;
    settings.nic = { kind: profile.vm.nic?.kind ?? 'none', drivers: [...new Set(profile.hosts.flatMap((h) => (h.vdpa ? [h.vdpa.driver] : [])))] };
    settings.variantSettings = Object.fromEntries(profile.variants.map((v) => [v.name, variantSettingsOf(v, profile)]));
    Object.assign(settings, platformOf(profile));
    settings.source = 'profile';
  } catch (error) {
    // A profile from another version of the schema: take what is recognisable, say what was not.
    settings.warnings.push(
      `the run's profile does not validate with this version (${(error as Error).message.split('\n')[0]}); reading its compare and metrics settings leniently`,
    );
    const raw = lenientYaml(text);
    const compare = field(raw, 'compare');
    const metrics = field(raw, 'metrics');
    if (typeof compare.baseline === 'string') settings.baseline = compare.baseline;
    if (typeof compare.candidate === 'string') settings.candidate = compare.candidate;
    if (typeof compare.purpose === 'string' && compare.purpose.trim()) settings.purpose = compare.purpose.trim();
    if (typeof compare.noiseThresholdPct === 'number') settings.noiseThresholdPct = compare.noiseThresholdPct;
    if (typeof metrics.disagreementTolerancePct === 'number') settings.disagreementTolerancePct = metrics.disagreementTolerancePct;
    if (Array.isArray(raw.variants)) {
      const names = raw.variants.map((v: unknown) => asObject(v).name).filter((n): n is string => typeof n === 'string');
      if (names.length) settings.variantOrder = names;
    }
  }
  return settings;
}

/** What the platform sentence needs from the profile: the guest, and where each host was reached. */
function platformOf(profile: ReturnType<typeof parseProfile>): Pick<ReportSettings, 'guest' | 'hostAddresses'> {
  const where = (t: (typeof profile.hosts)[number]['transport']) =>
    t.kind === 'ssh' ? t.host : t.kind === 'netns' ? 'a network namespace on this machine' : 'this machine';
  return { guest: profile.vm.guest.kind, hostAddresses: Object.fromEntries(profile.hosts.map((h) => [h.name, where(h.transport)])) };
}

type Loose = Record<string, unknown>;

/** The YAML as a plain object whatever it holds ({} when it does not parse or is not a mapping). */
function lenientYaml(text: string): Loose {
  try {
    return asObject(parseYaml(text));
  } catch {
    return {};
  }
}

const asObject = (value: unknown): Loose => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Loose) : {});

/** The mapping at value[key] ({} when value is not a mapping, or the key is absent or holds no mapping). */
function field(value: unknown, key: string): Loose {
  return asObject(asObject(value)[key]);
}

type Profile = ReturnType<typeof parseProfile>;

/** A variant's settings, flattened to strings, with the run-wide workload where the variant does not set its own. */
function variantSettingsOf(v: Profile['variants'][number], profile: Profile): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (prefix: string, value: unknown) => {
    if (value === undefined) return;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) for (const [k, x] of Object.entries(value)) put(`${prefix}.${k}`, x);
    else out[prefix] = Array.isArray(value) ? value.join(' ') : String(value);
  };
  put('qemu', v.qemu);
  put('capabilities', v.capabilities);
  put('parameters', v.parameters);
  put('memory', { ...profile.vm.memory, ...v.memory });
  const guest = profile.vm.guest as { workload?: unknown } | undefined;
  put('workload', v.workload ?? guest?.workload);
  if (v.extraArgs.length) out.extraArgs = v.extraArgs.join(' ');
  return out;
}
