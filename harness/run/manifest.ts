/**
 * The one manifest builder: what a run directory's manifest.json says about the run. A run that
 * starts gets the whole manifest; a run that stops before its schedule starts gets the same header
 * and options with the reason it stopped; a resumed run keeps its manifest, checked against the
 * lab it finds now.
 */
import { execa } from 'execa';
import type { PreparedLab } from '../lab/prepare.ts';
import type { PreparedLabBox } from '../labbox/prepare.ts';
import { RunInterrupted } from '../migration/interfaces.ts';
import type { Block } from '../migration/schedule.ts';
import type { LoadedProfile } from '../profile/load.ts';
import type { Profile } from '../profile/schema.ts';
import type { HostFacts, RunManifest, VariantFacts } from '../results/types.ts';
import { REPO_ROOT } from '../root.ts';
import { describeDesign } from '../sampling/design.ts';
import { TOOL_VERSION } from '../version.ts';
import type { AccelChoice } from './accel.ts';
import type { MetricSetup, RunSelection } from './selection.ts';
import { formatShard, type Shard } from './shard.ts';

/** What the manifest says about a run before any host is looked at. */
export interface RunBasics {
  runId: string;
  loaded: LoadedProfile;
  /** The profile as run (the lab in a box rewrites hosts and guest). */
  profile: Profile;
  startedAt: string;
  command: string[];
  selection: RunSelection;
  shard: Shard | undefined;
  metrics: MetricSetup;
}

/** What the lab turned out to be. */
export interface LabFacts {
  hosts: HostFacts[];
  variants: VariantFacts[];
  accel: AccelChoice;
  pair: [string, string];
  blocks: readonly Block[];
  lab: PreparedLab | undefined;
  box: PreparedLabBox | undefined;
}

async function gitCommit(): Promise<string | null> {
  const result = await execa('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT.pathname, reject: false });
  return result.exitCode === 0 ? String(result.stdout).trim() : null;
}

function header(run: RunBasics, commit: string | null): Pick<RunManifest, 'runId' | 'tool' | 'profile' | 'startedAt'> {
  const { loaded, profile } = run;
  return {
    runId: run.runId,
    tool: { name: 'vdpa-bench', version: TOOL_VERSION, gitCommit: commit },
    profile: { path: loaded.file, name: profile.name, sha256: loaded.sha256, text: loaded.text },
    startedAt: run.startedAt,
  };
}

function runOptions(run: RunBasics): RunManifest['options'] {
  const { selection, profile, shard } = run;
  return {
    iterations: selection.iterations,
    warmup: selection.warmup,
    vmSizes: selection.vmSizes,
    variants: selection.variants,
    queuePairs: selection.queuePairs,
    design: profile.design.order,
    seed: profile.design.seed,
    ...(shard ? { shard: formatShard(shard) } : {}),
  };
}

/** The manifest of a run whose schedule is about to start. */
export async function startedManifest(run: RunBasics, lab: LabFacts): Promise<RunManifest> {
  const { profile, selection } = run;
  return {
    ...header(run, await gitCommit()),
    finishedAt: null,
    state: 'running',
    command: run.command,
    options: runOptions(run),
    design: describeDesign(profile.design.order, profile.design.seed, profile.design.blockSize, selection.variants),
    accel: { requested: profile.vm.accel, used: lab.accel.used, reason: lab.accel.reason, probes: lab.accel.probes },
    hosts: lab.hosts,
    variants: lab.variants,
    metrics: { primary: run.metrics.primary, names: [...run.metrics.names, ...(lab.box?.metricNames ?? [])] },
    setup: { ...nicSetup(profile, selection.queuePairs), queuePairs: selection.queuePairs },
    pair: lab.pair,
    schedule: { blocks: lab.blocks.length, migrations: lab.blocks.reduce((n, b) => n + b.migrations.length, 0) },
    // the ledger's live list of entries: steps applied during the run (queue-pair sweeps) are in every later write
    ...(lab.lab ? { lab: { ...lab.lab.manifest, ledger: lab.lab.manifest.ledger.entries } } : {}),
    abandonedCells: [],
    ...(lab.box ? { labBox: lab.box.facts } : {}),
  };
}

/** The manifest of a run that stopped before its schedule started: what it was asked to do and why it stopped. */
export function notStartedManifest(run: RunBasics, error: unknown): RunManifest {
  return {
    ...header(run, null),
    finishedAt: new Date().toISOString(),
    state: error instanceof RunInterrupted ? 'interrupted' : 'failed',
    stateReason: (error as Error).message,
    command: run.command,
    options: runOptions(run),
    accel: { requested: run.profile.vm.accel, used: 'none', reason: 'the run did not start' },
    hosts: [],
    variants: [],
    metrics: { primary: run.metrics.primary, names: run.metrics.names },
  };
}

/** A resumed run goes on in its own manifest, which notes the resume; the lab must be the one it started on. */
export function resumedManifest(manifest: RunManifest, lab: LabFacts, run: Pick<RunBasics, 'startedAt' | 'command'>, alreadyRecorded: number): RunManifest {
  checkLabUnchanged(manifest, lab.hosts, lab.variants, lab.accel.used);
  manifest.state = 'running';
  manifest.finishedAt = null;
  delete manifest.stateReason;
  const resumes = manifest.resumes ?? [];
  manifest.resumes = [...resumes, { at: run.startedAt, command: run.command, alreadyRecorded }];
  return manifest;
}

/** A resumed run must measure the same lab: kernel, CPU, QEMU builds and accel as it started with. */
function checkLabUnchanged(manifest: RunManifest, facts: HostFacts[], variants: VariantFacts[], accel: string): void {
  const changes: string[] = [];
  for (const f of facts) {
    const before = manifest.hosts.find((h) => h.name === f.name);
    if (!before) continue;
    for (const key of ['kernel', 'cpuModel'] as const) if (before[key] !== f[key]) changes.push(`${f.name} ${key}: ${before[key]} → ${f[key]}`);
  }
  for (const v of variants) {
    const before = manifest.variants.find((x) => x.name === v.name);
    for (const [host, version] of Object.entries(v.qemuVersion))
      if (before && before.qemuVersion[host] !== version) changes.push(`${v.name} QEMU on ${host}: ${before.qemuVersion[host]} → ${version}`);
  }
  if (manifest.accel.used !== accel) changes.push(`accel: ${manifest.accel.used} → ${accel}`);
  if (changes.length > 0) throw new Error(`cannot resume run ${manifest.runId}: the lab changed since it started (${changes.join('; ')}); start a new run`);
}

/** The NIC and its datapath in the words of the report's set-up sentence (a vDPA lab's own facts may say more). */
function nicSetup(profile: Profile, queuePairs: readonly (number | null)[]): { nic?: string; mode?: string } {
  const nic = profile.vm.nic;
  if (nic.kind === 'tap') return { nic: 'virtio-net-pci', mode: 'on a tap, QEMU userspace datapath' };
  if (nic.kind === 'none' && queuePairs.every((q) => q === null)) return { nic: 'no NIC' };
  return {};
}
