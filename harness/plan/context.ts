/**
 * What every section of `vdpa-bench plan` reads, gathered once: the profile as the run would see
 * it, the selected matrix and its schedule, the pair's hosts and the transports that describe
 * their commands.
 */
import { join } from 'node:path';
import { openTransport } from '../hosts/open.ts';
import type { HostTransport } from '../hosts/transport.ts';
import { deviceQueuePairs, isVdpaProfile, queuePairCounts, type VdpaHost } from '../lab/vdpa.ts';
import { PHASE_EVENTS } from '../metrics/phases.ts';
import type { EngineHost } from '../migration/interfaces.ts';
import type { Block } from '../migration/schedule.ts';
import { needsLabBox } from '../profile/lab-box-checks.ts';
import { pairHosts, type LoadedProfile } from '../profile/load.ts';
import type { Host, Variant } from '../profile/schema.ts';
import { siteScriptsFor, type PlannedSiteScript } from '../provision/site-scripts.ts';
import { readPatches } from '../qemu/build.ts';
import { metricSetup, scheduleFor, selectMatrix, type MatrixNarrowing } from '../run/selection.ts';
import { NETNS_TOKEN, planLabBox, type PlannedLabBox } from './lab-box.ts';

export const PLAN_RUN_ID = 'RUN_ID';

/** Placeholder for a vDPA device's character device until set-up has created it. */
export function devicePlaceholder(name: string): string {
  return `/dev/vhost-vdpa-@${name}`;
}

/**
 * What only a run finds out, which the plan's lines would otherwise show as placeholders: its id
 * and results directory, the accelerator `auto` chose, the lab in a box's namespace token and
 * built guest, each host's vDPA devices and QEMU binaries, the trace events each QEMU knows. A
 * plan given the values a run recorded prints that run's command lines (test/plan-matches-run).
 */
export interface PlanFacts {
  runId: string;
  /** Parent of the run's results directory. */
  resultsDir: string;
  /** The accelerator `vm.accel: auto` chose (the plan shows kvm). */
  accel?: 'kvm' | 'tcg';
  netnsToken: string;
  guestDir?: string;
  /** Host → vDPA device name → /dev/vhost-vdpa-N. */
  devicePaths?: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Variant → host → QEMU binary (a build's path has its cache key). */
  binaries?: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Variant → the trace events enabled (those its QEMU knows). */
  traceEvents?: ReadonlyMap<string, readonly string[]>;
}

export const PLACEHOLDER_FACTS: PlanFacts = { runId: PLAN_RUN_ID, resultsDir: 'RESULTS', netnsToken: NETNS_TOKEN };

/**
 * What every section of the plan reads: the profile as the run would see it (after the lab in a
 * box rewrites it), the selected matrix and schedule, the pair's hosts and their transports, and
 * `say`, where the plan's lines go.
 */
export interface PlanContext {
  loaded: LoadedProfile;
  profile: LoadedProfile['profile'];
  box: PlannedLabBox | undefined;
  selection: ReturnType<typeof selectMatrix>;
  blocks: Block[];
  metrics: ReturnType<typeof metricSetup>;
  vdpa: boolean;
  traceEvents: string[];
  /** The queue pairs set-up creates the vDPA devices with (null: the device's default). */
  queuePairs: number | null;
  /** The queue-pair counts a sweep visits (empty without vDPA). */
  sweep: number[];
  nameA: string;
  nameB: string;
  hosts: Host[];
  vdpaPairHosts: VdpaHost[];
  transports: Map<string, HostTransport>;
  site: PlannedSiteScript[];
  variants: Variant[];
  accel: 'tcg' | 'kvm';
  patchesByVariant: Map<string, { path: string; sha256: string }[]>;
  facts: PlanFacts;
  say: (line?: string) => void;
}

export async function planContext(
  loaded: LoadedProfile,
  options: MatrixNarrowing,
  say: (line?: string) => void,
  facts: PlanFacts = PLACEHOLDER_FACTS,
): Promise<PlanContext> {
  // the lab in a box plans on the profile as prepareLabBox rewrites it (namespaced hosts, built guest)
  const box = needsLabBox(loaded.profile)
    ? await planLabBox(loaded.profile, { runDir: join(facts.resultsDir, facts.runId), netnsToken: facts.netnsToken, guestDir: facts.guestDir })
    : undefined;
  const profile = box?.profile ?? loaded.profile;
  const selection = selectMatrix(profile, options);
  const metrics = metricSetup(profile);
  const vdpa = isVdpaProfile(profile, selection.queuePairs);
  const [nameA, nameB] = pairHosts(profile);
  const pairNames = [...new Set([nameA, nameB])];
  const hosts = pairNames.map((n) => profile.hosts.find((h) => h.name === n)!);
  const variants = selection.variants.map((n) => profile.variants.find((v) => v.name === n)!);
  return {
    loaded,
    profile,
    box,
    selection,
    blocks: scheduleFor(profile, selection),
    metrics,
    vdpa,
    traceEvents: vdpa ? [...new Set([...metrics.traceEvents, ...PHASE_EVENTS])] : metrics.traceEvents,
    queuePairs: vdpa ? deviceQueuePairs(selection.queuePairs) : null,
    sweep: vdpa ? queuePairCounts(selection.queuePairs) : [],
    nameA,
    nameB,
    hosts,
    vdpaPairHosts: hosts.filter((h): h is VdpaHost => vdpa && !!h.vdpa),
    // transports only describe here; opening one starts no connection
    transports: new Map(hosts.map((h) => [h.name, openTransport(h)])),
    site: siteScriptsFor(profile, loaded.file, pairNames),
    variants,
    accel: profile.vm.accel === 'auto' ? (facts.accel ?? 'kvm') : profile.vm.accel,
    patchesByVariant: await patchesOf(loaded.file, variants),
    facts,
    say,
  };
}

/** Each built variant's patches with their hashes (they enter the build's cache key). */
async function patchesOf(profileFile: string, variants: Variant[]): Promise<Map<string, { path: string; sha256: string }[]>> {
  const patchesByVariant = new Map<string, { path: string; sha256: string }[]>();
  for (const v of variants) {
    if (!v.qemu.build) continue;
    patchesByVariant.set(
      v.name,
      (await readPatches(profileFile, v.qemu.build.patches)).map(({ path, sha256 }) => ({ path, sha256 })),
    );
  }
  return patchesByVariant;
}

/** The engine's view of a host: its transport and this run's directory on it. */
export function planEngineHost({ profile, transports, facts }: PlanContext, name: string): EngineHost {
  const host = profile.hosts.find((h) => h.name === name)!;
  return { name, transport: transports.get(name)!, runDir: join(host.workdir, facts.runId), migrationAddress: host.migrationAddress };
}
