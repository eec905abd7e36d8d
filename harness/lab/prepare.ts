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
import { afterSetupChecks, beforeSetupChecks, PreflightError, qemuChecks, runChecks, timestampProbe, traceFormatOf, vhostVdpaDeviceCommand } from '../provision/preflight.ts';
import { buildQemu, readPatches, type BuildRecord } from '../qemu/build.ts';
import { qemuInvocation } from '../qemu/command.ts';
import { buildRoot, deviceQueuePairs, eventRequirements, hostSetupSteps, isVdpaProfile, largestGuestBytes, vdpaLaunchHook, type VdpaHost } from './vdpa.ts';

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
  ledger: ProvisionLedger;
}

export interface PreparedLab {
  /** Variant → binary, when every host runs the same path (else the hook overrides per host). */
  binaries: Map<string, string>;
  hooks: MigrationHooks[];
  traceEvents: string[];
  manifest: LabManifest;
  teardown(): Promise<string[]>;
}

/** True when the run needs more than the spine's own preparation. */
export function needsLab(profile: Profile, selection: LabSelection): boolean {
  return isVdpaProfile(profile, selection.queuePairs) || profile.variants.some((v) => selection.variants.includes(v.name) && v.qemu.build);
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
  const manifest: LabManifest = { builds: [], provisioning: {}, vdpaHosts: {}, vhostVdpaDevices: {}, qemu: {}, ledger };
  const stepsOf = (h: VdpaHost) => hostSetupSteps(h, profile, queuePairs);

  const teardown = async () => {
    const problems: string[] = [];
    for (const h of [...vdpaHosts].reverse()) problems.push(...(await undoSteps(transports.get(h.name)!, stepsOf(h), ledger)).map((p) => `${h.name}: ${p}`));
    return problems;
  };

  const preflight = (await Promise.all(vdpaHosts.map((h) => runChecks(transports.get(h.name)!, beforeSetupChecks({ config: h.vdpa, largestGuestBytes: largest, queuePairs: queuePairs ?? undefined }))))).flat();
  if (preflight.length > 0) throw new PreflightError(preflight);

  try {
    for (const h of vdpaHosts) manifest.provisioning[h.name] = await applySteps(transports.get(h.name)!, stepsOf(h), ledger, log);

    const binaryOn = new Map<string, Map<string, string>>();
    for (const name of selection.variants) {
      const variant = profile.variants.find((v) => v.name === name)!;
      const perHost = new Map<string, string>();
      if (variant.qemu.build) {
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
            const record = await buildQemu({ host: transports.get(group[0].name)!, variant: name, spec: variant.qemu.build!, patches, buildRoot: buildRoot(group[0]), log });
            for (const h of group) perHost.set(h.name, record.binary);
            return record;
          }),
        );
        manifest.builds.push(...records);
      } else for (const h of hosts) perHost.set(h.name, variant.qemu.binary ?? 'qemu-system-x86_64');
      binaryOn.set(name, perHost);
    }

    const requirements = eventRequirements(metrics.names, metrics.rules);
    const verify: string[] = [];
    for (const h of hosts) {
      const t = transports.get(h.name)!;
      if (h.vdpa && vdpa) verify.push(...(await runChecks(t, afterSetupChecks({ config: h.vdpa, largestGuestBytes: largest }))));
      for (const [variant, perHost] of binaryOn) {
        const binary = perHost.get(h.name)!;
        const invocation = qemuInvocation(profile.variants.find((v) => v.name === variant)!, binary);
        verify.push(...(await runChecks(t, qemuChecks(invocation, requirements, profile.trace.backend))));
        const traceFormat = profile.trace.backend === 'log' ? traceFormatOf((await runCommand(t, timestampProbe(invocation).command)).stderr) : 'stap';
        (manifest.qemu[h.name] ??= {})[variant] = { binary, traceFormat };
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
    if (vdpa) hooks.push(vdpaLaunchHook(devicePaths, pair[0] === pair[1], vdpaHosts));
    const traceEvents = vdpa ? [...new Set([...metrics.traceEvents, ...PHASE_EVENTS])] : [...metrics.traceEvents];
    return { binaries, hooks, traceEvents, manifest, teardown };
  } catch (error) {
    const problems = await teardown();
    if (problems.length > 0) log(`teardown after a failed set-up left: ${problems.join('; ')}`);
    throw error;
  }
}
