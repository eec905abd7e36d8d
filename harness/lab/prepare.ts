/**
 * Gets the lab ready for a run and back afterwards: preflight, vDPA set-up, QEMU builds,
 * verification, device resolution and facts, in that order; teardown undoes only what set-up
 * applied. Every host command goes through the host's transport.
 */
import { join } from 'node:path';
import type { HostTransport } from '../hosts/transport.ts';
import { PHASE_EVENTS } from '../metrics/phases.ts';
import type { MetricRule, Profile } from '../profile/schema.ts';
import type { MigrationHooks } from '../migration/interfaces.ts';
import { applySteps, ProvisionLedger, undoSteps, type StepOutcome } from '../provision/apply.ts';
import { runCommand } from '../hosts/command.ts';
import { gatherVdpaHostFacts, type VdpaHostFacts } from '../provision/facts.ts';
import {
  afterSetupChecks,
  beforeSetupChecks,
  PreflightError,
  qemuChecks,
  runChecks,
  timestampProbe,
  traceFormatOf,
  vhostVdpaDeviceCommand,
} from '../provision/preflight.ts';
import { buildQemu, readPatches, type BuildRecord } from '../qemu/build.ts';
import { qemuInvocation } from '../qemu/command.ts';
import { tracerClock } from '../qemu/tracer.ts';
import {
  buildRoot,
  deviceQueuePairs,
  eventRequirements,
  hostSetupSteps,
  isVdpaProfile,
  largestGuestBytes,
  migrationPortOf,
  queuePairCounts,
  queuePairProblems,
  type VdpaHost,
} from './vdpa.ts';
import { labLaunchHooks, type LabHooks } from './launch-hooks.ts';
import { queuePairHooks } from './queue-pairs.ts';
import { queuePairStep } from '../provision/steps.ts';
import { invocationLabel, ROOT_QEMU_BINARY } from '../qemu/root.ts';
import { cacheRoot } from '../guest/build.ts';
import { LocalTransport } from '../hosts/local.ts';
import { provisionQemuRoot, qemuRootsDir, type QemuRootRecord } from '../provision/qemu-root.ts';

export interface LabSelection {
  variants: string[];
  vmSizes: string[];
  queuePairs: (number | null)[];
}

export interface LabManifest {
  builds: BuildRecord[];
  provisioning: Record<string, StepOutcome[]>;
  vdpaHosts: Record<string, VdpaHostFacts>;
  vhostVdpaDevices: Record<string, Record<string, string>>;
  qemu: Record<string, Record<string, { binary: string; traceFormat?: string; traceBackend?: 'log' | 'dtrace'; tracer?: string }>>;
  /** Debian suite roots the run used (provisioned or found cached), one per suite and machine. */
  qemuRoots: QemuRootRecord[];
  ledger: ProvisionLedger;
}

export interface PreparedLab {
  /** Variant → binary, when every host runs the same path (else the hook overrides per host). */
  binaries: Map<string, string>;
  hooks: MigrationHooks[];
  /** Waits before `migrate` (a sweep's queue pairs), run after the profile's own hooks (run/hooks.ts). */
  waits: MigrationHooks[];
  traceEvents: string[];
  /** Variant → host → the root filesystem its QEMU runs from (`qemu.debian` variants). */
  roots: Map<string, Map<string, QemuRootRecord>>;
  manifest: LabManifest;
  teardown(): Promise<string[]>;
}

/** True when the run needs more than the spine's own preparation. */
export function needsLab(profile: Profile, selection: LabSelection): boolean {
  return isVdpaProfile(profile, selection.queuePairs) || profile.variants.some((v) => selection.variants.includes(v.name) && (v.qemu.build || v.qemu.debian));
}

/** What preparing the lab works from: the run's profile, its hosts' transports and its selection. */
export interface LabContext {
  profile: Profile;
  profileFile: string;
  transports: ReadonlyMap<string, HostTransport>;
  selection: LabSelection;
  metrics: { names: readonly string[]; rules: Readonly<Record<string, MetricRule>>; traceEvents: readonly string[] };
  /** The migration's source and destination host names. */
  pair: [string, string];
  log: (line: string) => void;
  /** Wraps a transport the lab opens beyond the hosts' own (the run records what it starts). */
  track?: (transport: HostTransport) => HostTransport;
}

/** The context plus what prepareLab derives once and every step reads. */
interface LabPlan extends LabContext {
  vdpa: boolean;
  queuePairs: number | null;
  hosts: Profile['hosts'][number][];
  vdpaHosts: VdpaHost[];
  largest: number;
  ledger: ProvisionLedger;
  manifest: LabManifest;
}

/** Variant → host → the QEMU binary it runs. */
type BinariesOn = Map<string, Map<string, string>>;

export async function prepareLab(context: LabContext): Promise<PreparedLab> {
  const { profile, selection, transports } = context;
  const vdpa = isVdpaProfile(profile, selection.queuePairs);
  const queuePairs = vdpa ? deviceQueuePairs(selection.queuePairs) : null;
  const hosts = [...transports.keys()].map((name) => profile.hosts.find((h) => h.name === name)!);
  const vdpaHosts = vdpa ? hosts.filter((h): h is VdpaHost => !!h.vdpa) : [];
  const ledger = new ProvisionLedger();
  const manifest: LabManifest = { builds: [], provisioning: {}, vdpaHosts: {}, vhostVdpaDevices: {}, qemu: {}, qemuRoots: [], ledger };
  const lab: LabPlan = { ...context, vdpa, queuePairs, hosts, vdpaHosts, largest: largestGuestBytes(selection.vmSizes), ledger, manifest };
  const stepsOf = (h: VdpaHost) => hostSetupSteps(h, profile, queuePairs);
  // a sweep's per-cell re-creations are undone by their own step (found by id in the ledger)
  const undoableOf = (h: VdpaHost) => [...stepsOf(h), ...h.vdpa.devices.map((d) => queuePairStep(d, h.vdpa.managementDevice, h.vdpa.driver, queuePairs ?? 1))];

  const teardown = async () => {
    const problems: string[] = [];
    for (const h of [...vdpaHosts].reverse()) problems.push(...(await undoSteps(transports.get(h.name)!, undoableOf(h), ledger)).map((p) => `${h.name}: ${p}`));
    return problems;
  };

  await preflightVdpaHosts(lab);
  try {
    for (const h of vdpaHosts) manifest.provisioning[h.name] = await applySteps(transports.get(h.name)!, stepsOf(h), ledger, context.log);
    const roots = await provisionSuiteRoots(lab);
    const binaryOn = await resolveBinaries(lab);
    await verifyLab(lab, binaryOn, roots);
    const devicePaths = await resolveVdpaDevices(lab);
    const { binaries, hooks, waits } = launchHooks(lab, binaryOn, roots, devicePaths);
    const traceEvents = vdpa ? [...new Set([...context.metrics.traceEvents, ...PHASE_EVENTS])] : [...context.metrics.traceEvents];
    return { binaries, hooks, waits, traceEvents, roots, manifest, teardown };
  } catch (error) {
    const problems = await teardown();
    if (problems.length > 0) context.log(`teardown after a failed set-up left: ${problems.join('; ')}`);
    throw error;
  }
}

/** What the devices cannot do at all, then what each host's management device offers: said before anything is set up. */
async function preflightVdpaHosts({ profile, selection, vdpaHosts, transports, largest }: LabPlan): Promise<void> {
  const impossible = queuePairProblems(vdpaHosts, selection.queuePairs);
  if (impossible.length > 0) throw new PreflightError(impossible);
  // the largest count of a sweep is the one the management device must offer
  const mostQueuePairs = Math.max(1, ...queuePairCounts(selection.queuePairs));
  const preflight = (
    await Promise.all(
      vdpaHosts.map((h) =>
        runChecks(
          transports.get(h.name)!,
          beforeSetupChecks({ config: h.vdpa, largestGuestBytes: largest, queuePairs: mostQueuePairs, migration: migrationPortOf(h, profile) }),
        ),
      ),
    )
  ).flat();
  if (preflight.length > 0) throw new PreflightError(preflight);
}

/** The machine a host runs on: hosts on one machine share its builds and roots. */
function machineOf(h: Profile['hosts'][number]): string {
  return h.transport.kind === 'ssh' ? `ssh:${h.transport.host}:${h.transport.port ?? 22}` : 'this machine';
}

/** Hosts grouped by a key: one piece of work per group, shared by its hosts. */
function groupHosts<H>(hosts: readonly H[], keyOf: (h: H) => string): H[][] {
  const groups = new Map<string, H[]>();
  for (const h of hosts) groups.set(keyOf(h), [...(groups.get(keyOf(h)) ?? []), h]);
  return [...groups.values()];
}

/** Each selected variant's binary on each host: a Debian root's QEMU, a build of the variant's patches, or the named binary. */
async function resolveBinaries(lab: LabPlan): Promise<BinariesOn> {
  const { profile, hosts } = lab;
  const binaryOn: BinariesOn = new Map();
  for (const name of lab.selection.variants) {
    const variant = profile.variants.find((v) => v.name === name)!;
    const perHost = new Map<string, string>();
    if (variant.qemu.debian) for (const h of hosts) perHost.set(h.name, ROOT_QEMU_BINARY);
    else if (variant.qemu.build) {
      const spec = variant.qemu.build;
      const patches = await readPatches(lab.profileFile, spec.patches);
      // one build per machine and build directory (two local hosts share both); machines build in parallel
      const groups = groupHosts(hosts, (h) => `${machineOf(h)}|${buildRoot(h)}`);
      const records = await Promise.all(
        groups.map(async (group) => {
          const host = lab.transports.get(group[0].name)!;
          const record = await buildQemu({ host, variant: name, spec, patches, buildRoot: buildRoot(group[0]), log: lab.log });
          for (const h of group) perHost.set(h.name, record.binary);
          return record;
        }),
      );
      lab.manifest.builds.push(...records);
    } else for (const h of hosts) perHost.set(h.name, variant.qemu.binary ?? 'qemu-system-x86_64');
    binaryOn.set(name, perHost);
  }
  return binaryOn;
}

/**
 * After set-up: each vDPA host's devices, and each QEMU the run will launch. The primary metric
 * decides whether a migration counts: its events must exist. Another metric a QEMU cannot trace
 * (checkpoint on 7.2 in a release comparison) is noted and recorded per migration as an error
 * with its reason.
 */
async function verifyLab(lab: LabPlan, binaryOn: BinariesOn, roots: SuiteRoots): Promise<void> {
  const { profile, manifest } = lab;
  const requirements = eventRequirements([profile.metrics.primary], lab.metrics.rules);
  const verify: string[] = [];
  for (const h of lab.hosts) {
    const t = lab.transports.get(h.name)!;
    if (h.vdpa && lab.vdpa) verify.push(...(await runChecks(t, afterSetupChecks({ config: h.vdpa, largestGuestBytes: lab.largest }))));
    // variants that differ only in migration settings run the same QEMU: checked once
    const checked = new Map<string, { problems: string[]; traceFormat?: string }>();
    for (const [variant, perHost] of binaryOn) {
      const binary = perHost.get(h.name)!;
      const root = roots.get(variant)?.get(h.name)?.root;
      const invocation = qemuInvocation(
        profile.variants.find((v) => v.name === variant)!,
        binary,
        root,
      );
      const key = JSON.stringify(invocation);
      if (!checked.has(key)) {
        const tracer = { kind: profile.trace.tracer, sdtBinary: root ? join(root, binary) : binary };
        const problems = await runChecks(t, qemuChecks(invocation, requirements, profile.trace.backend, { label: invocationLabel(invocation), tracer }));
        const traceFormat = profile.trace.backend === 'log' ? traceFormatOf((await runCommand(t, timestampProbe(invocation).command)).stderr) : 'stap';
        checked.set(key, { problems, traceFormat });
        verify.push(...problems);
      }
      const trace = profile.trace;
      (manifest.qemu[h.name] ??= {})[variant] = {
        binary,
        traceFormat: checked.get(key)!.traceFormat,
        traceBackend: trace.backend === 'stap' ? 'dtrace' : 'log',
        ...(trace.backend === 'stap'
          ? { tracer: `${trace.tracer}: ${tracerClock(trace.tracer)}${trace.alsoLog ? '; the log backend beside it in *.qemu-log.log' : ''}` }
          : {}),
      };
    }
  }
  if (verify.length > 0) throw new PreflightError(verify);
}

/** Host → device name → its /dev/vhost-vdpa-N path, with each vDPA host's facts recorded in the manifest. */
async function resolveVdpaDevices({ vdpaHosts, transports, manifest }: LabPlan): Promise<Map<string, Map<string, string>>> {
  const devicePaths = new Map<string, Map<string, string>>();
  for (const h of vdpaHosts) {
    const t = transports.get(h.name)!;
    const paths = new Map<string, string>();
    for (const d of h.vdpa.devices) paths.set(d.name, (await runCommand(t, vhostVdpaDeviceCommand(d.name))).stdout.trim());
    devicePaths.set(h.name, paths);
    manifest.vhostVdpaDevices[h.name] = Object.fromEntries(paths);
    manifest.vdpaHosts[h.name] = await gatherVdpaHostFacts(t, h.vdpa);
  }
  return devicePaths;
}

/** The lab's launch hooks (binaries, roots, vDPA devices), the queue-pair hooks of a sweep, and its waits before `migrate`. */
function launchHooks(lab: LabPlan, binaryOn: BinariesOn, roots: SuiteRoots, devicePaths: Map<string, Map<string, string>>): LabHooks {
  const sameHost = lab.pair[0] === lab.pair[1];
  const rootOn = new Map([...roots].map(([variant, perHost]) => [variant, new Map([...perHost].map(([host, record]) => [host, record.root]))]));
  const vdpa = lab.vdpa ? { devicePaths, sameHost, hosts: lab.vdpaHosts, guestKind: lab.profile.vm.guest.kind } : undefined;
  const launch = labLaunchHooks({ binaryOn, rootOn, vdpa });
  if (lab.vdpa) {
    const { transports, vdpaHosts: hosts, ledger, queuePairs: initial, log } = lab;
    launch.hooks.push(queuePairHooks({ transports, hosts, devicePaths, ledger, initial, sameHost, log }));
  }
  return launch;
}

/**
 * Each Debian suite a selected variant names, provisioned once per machine and roots directory
 * (two namespaced or local hosts share one). A namespaced host's root is made from this machine
 * outside the namespace: the same filesystem, and the namespace has no route to the mirror.
 */
/** Variant → host → the Debian suite root its QEMU runs from. */
type SuiteRoots = Map<string, Map<string, QemuRootRecord>>;

async function provisionSuiteRoots({ profile, selection, hosts, transports, manifest, log, track = (t) => t }: LabPlan): Promise<SuiteRoots> {
  const variants = selection.variants;
  const roots = new Map<string, Map<string, QemuRootRecord>>();
  const suites = [...new Set(profile.variants.filter((v) => variants.includes(v.name) && v.qemu.debian).map((v) => v.qemu.debian!))];
  for (const suite of suites) {
    const groups = groupHosts(hosts, (h) => `${machineOf(h)}|${qemuRootsDir(h, cacheRoot())}`);
    const perHost = new Map<string, QemuRootRecord>();
    await Promise.all(
      groups.map(async (group) => {
        const first = group[0];
        const local = first.transport.kind === 'netns' ? track(new LocalTransport(first.name)) : undefined;
        try {
          const record = await provisionQemuRoot(local ?? transports.get(first.name)!, { rootsDir: qemuRootsDir(first, cacheRoot()), suite, log });
          manifest.qemuRoots.push(record);
          for (const h of group) perHost.set(h.name, record);
        } finally {
          await local?.close();
        }
      }),
    );
    for (const v of profile.variants) if (v.qemu.debian === suite && variants.includes(v.name)) roots.set(v.name, perHost);
  }
  return roots;
}
