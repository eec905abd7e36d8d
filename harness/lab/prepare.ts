/**
 * Gets the lab ready for a run and back afterwards: preflight, vDPA set-up, QEMU builds,
 * verification, device resolution and facts, in that order; teardown undoes only what set-up
 * applied. Every host command goes through the host's transport.
 */
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
import {
  buildRoot,
  deviceQueuePairs,
  eventRequirements,
  hostSetupSteps,
  isVdpaProfile,
  largestGuestBytes,
  queuePairCounts,
  queuePairProblems,
  vdpaLaunchHook,
  type VdpaHost,
} from './vdpa.ts';
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
  qemu: Record<string, Record<string, { binary: string; traceFormat?: string }>>;
  /** Debian suite roots the run used (provisioned or found cached), one per suite and machine. */
  qemuRoots: QemuRootRecord[];
  ledger: ProvisionLedger;
}

export interface PreparedLab {
  /** Variant → binary, when every host runs the same path (else the hook overrides per host). */
  binaries: Map<string, string>;
  hooks: MigrationHooks[];
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

export async function prepareLab(
  profile: Profile,
  profileFile: string,
  transports: ReadonlyMap<string, HostTransport>,
  selection: LabSelection,
  metrics: { names: readonly string[]; rules: Readonly<Record<string, MetricRule>>; traceEvents: readonly string[] },
  pair: [string, string],
  log: (line: string) => void,
): Promise<PreparedLab> {
  const vdpa = isVdpaProfile(profile, selection.queuePairs);
  const queuePairs = vdpa ? deviceQueuePairs(selection.queuePairs) : null;
  const hosts = [...transports.keys()].map((name) => profile.hosts.find((h) => h.name === name)!);
  const vdpaHosts = vdpa ? hosts.filter((h): h is VdpaHost => !!h.vdpa) : [];
  const largest = largestGuestBytes(selection.vmSizes);
  const ledger = new ProvisionLedger();
  const manifest: LabManifest = { builds: [], provisioning: {}, vdpaHosts: {}, vhostVdpaDevices: {}, qemu: {}, qemuRoots: [], ledger };
  const stepsOf = (h: VdpaHost) => hostSetupSteps(h, profile, queuePairs);
  // a sweep's per-cell re-creations are undone by their own step (found by id in the ledger)
  const undoableOf = (h: VdpaHost) => [...stepsOf(h), ...h.vdpa.devices.map((d) => queuePairStep(d, h.vdpa.managementDevice, h.vdpa.driver, queuePairs ?? 1))];

  const teardown = async () => {
    const problems: string[] = [];
    for (const h of [...vdpaHosts].reverse()) problems.push(...(await undoSteps(transports.get(h.name)!, undoableOf(h), ledger)).map((p) => `${h.name}: ${p}`));
    return problems;
  };

  // what the devices cannot do at all is said before anything on a host is looked at
  const impossible = queuePairProblems(vdpaHosts, selection.queuePairs);
  if (impossible.length > 0) throw new PreflightError(impossible);
  // and what a host's management device offers, before set-up (the largest count of a sweep)
  const mostQueuePairs = Math.max(1, ...queuePairCounts(selection.queuePairs));
  const preflight = (
    await Promise.all(
      vdpaHosts.map((h) => runChecks(transports.get(h.name)!, beforeSetupChecks({ config: h.vdpa, largestGuestBytes: largest, queuePairs: mostQueuePairs }))),
    )
  ).flat();
  if (preflight.length > 0) throw new PreflightError(preflight);

  try {
    for (const h of vdpaHosts) manifest.provisioning[h.name] = await applySteps(transports.get(h.name)!, stepsOf(h), ledger, log);

    const binaryOn = new Map<string, Map<string, string>>();
    const roots = await provisionSuiteRoots(profile, selection.variants, hosts, transports, manifest, log);
    for (const name of selection.variants) {
      const variant = profile.variants.find((v) => v.name === name)!;
      const perHost = new Map<string, string>();
      if (variant.qemu.debian) for (const h of hosts) perHost.set(h.name, ROOT_QEMU_BINARY);
      else if (variant.qemu.build) {
        const patches = await readPatches(profileFile, variant.qemu.build.patches);
        // one build per machine and build directory (two local hosts share both); machines build in parallel
        const groups = new Map<string, typeof hosts>();
        for (const h of hosts) {
          const machine = h.transport.kind === 'ssh' ? `ssh:${h.transport.host}:${h.transport.port ?? 22}` : 'this machine';
          const key = `${machine}|${buildRoot(h)}`;
          groups.set(key, [...(groups.get(key) ?? []), h]);
        }
        const records = await Promise.all(
          [...groups.values()].map(async (group) => {
            const record = await buildQemu({
              host: transports.get(group[0].name)!,
              variant: name,
              spec: variant.qemu.build!,
              patches,
              buildRoot: buildRoot(group[0]),
              log,
            });
            for (const h of group) perHost.set(h.name, record.binary);
            return record;
          }),
        );
        manifest.builds.push(...records);
      } else for (const h of hosts) perHost.set(h.name, variant.qemu.binary ?? 'qemu-system-x86_64');
      binaryOn.set(name, perHost);
    }

    // the primary metric decides whether a migration counts: its events must exist. Another
    // metric a QEMU cannot trace (checkpoint on 7.2 in a release comparison) is noted and recorded
    // per migration as an error with its reason.
    const requirements = eventRequirements([profile.metrics.primary], metrics.rules);
    const verify: string[] = [];
    for (const h of hosts) {
      const t = transports.get(h.name)!;
      if (h.vdpa && vdpa) verify.push(...(await runChecks(t, afterSetupChecks({ config: h.vdpa, largestGuestBytes: largest }))));
      // variants that differ only in migration settings run the same QEMU: checked once
      const checked = new Map<string, { problems: string[]; traceFormat?: string }>();
      for (const [variant, perHost] of binaryOn) {
        const binary = perHost.get(h.name)!;
        const invocation = qemuInvocation(
          profile.variants.find((v) => v.name === variant)!,
          binary,
          roots.get(variant)?.get(h.name)?.root,
        );
        const key = JSON.stringify(invocation);
        if (!checked.has(key)) {
          const problems = await runChecks(t, qemuChecks(invocation, requirements, profile.trace.backend, invocationLabel(invocation)));
          const traceFormat = profile.trace.backend === 'log' ? traceFormatOf((await runCommand(t, timestampProbe(invocation).command)).stderr) : 'stap';
          checked.set(key, { problems, traceFormat });
          verify.push(...problems);
        }
        (manifest.qemu[h.name] ??= {})[variant] = { binary, traceFormat: checked.get(key)!.traceFormat };
      }
    }
    if (verify.length > 0) throw new PreflightError(verify);

    const devicePaths = new Map<string, Map<string, string>>();
    for (const h of vdpaHosts) {
      const t = transports.get(h.name)!;
      const paths = new Map<string, string>();
      for (const d of h.vdpa.devices) paths.set(d.name, (await runCommand(t, vhostVdpaDeviceCommand(d.name))).stdout.trim());
      devicePaths.set(h.name, paths);
      manifest.vhostVdpaDevices[h.name] = Object.fromEntries(paths);
      manifest.vdpaHosts[h.name] = await gatherVdpaHostFacts(t, h.vdpa);
    }

    const binaries = new Map<string, string>();
    const hooks: MigrationHooks[] = [];
    const differing = [...binaryOn].filter(([, perHost]) => new Set(perHost.values()).size > 1);
    for (const [variant, perHost] of binaryOn) binaries.set(variant, [...perHost.values()][0]);
    if (differing.length > 0) {
      hooks.push({ launch: ({ host, variant }) => ({ binary: binaryOn.get(variant.name)!.get(host.name)! }) });
    }
    if (roots.size > 0) {
      hooks.push({
        launch: ({ host, variant }) => {
          const root = roots.get(variant.name)?.get(host.name)?.root;
          return root ? { root } : {};
        },
      });
    }
    if (vdpa) {
      hooks.push(vdpaLaunchHook(devicePaths, pair[0] === pair[1], vdpaHosts));
      hooks.push(queuePairHooks({ transports, hosts: vdpaHosts, devicePaths, ledger, initial: queuePairs, sameHost: pair[0] === pair[1], log }));
    }
    const traceEvents = vdpa ? [...new Set([...metrics.traceEvents, ...PHASE_EVENTS])] : [...metrics.traceEvents];
    return { binaries, hooks, traceEvents, roots, manifest, teardown };
  } catch (error) {
    const problems = await teardown();
    if (problems.length > 0) log(`teardown after a failed set-up left: ${problems.join('; ')}`);
    throw error;
  }
}

/**
 * Each Debian suite a selected variant names, provisioned once per machine and roots directory
 * (two namespaced or local hosts share one). A namespaced host's root is made from this machine
 * outside the namespace: the same filesystem, and the namespace has no route to the mirror.
 */
async function provisionSuiteRoots(
  profile: Profile,
  variants: readonly string[],
  hosts: readonly Profile['hosts'][number][],
  transports: ReadonlyMap<string, HostTransport>,
  manifest: LabManifest,
  log: (line: string) => void,
): Promise<Map<string, Map<string, QemuRootRecord>>> {
  const roots = new Map<string, Map<string, QemuRootRecord>>();
  const suites = [...new Set(profile.variants.filter((v) => variants.includes(v.name) && v.qemu.debian).map((v) => v.qemu.debian!))];
  for (const suite of suites) {
    const groups = new Map<string, (typeof hosts)[number][]>();
    for (const h of hosts) {
      const machine = h.transport.kind === 'ssh' ? `ssh:${h.transport.host}:${h.transport.port ?? 22}` : 'this machine';
      const key = `${machine}|${qemuRootsDir(h, cacheRoot())}`;
      groups.set(key, [...(groups.get(key) ?? []), h]);
    }
    const perHost = new Map<string, QemuRootRecord>();
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const first = group[0];
        const local = first.transport.kind === 'netns' ? new LocalTransport(first.name) : undefined;
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
