/**
 * The QEMU each variant of the run will use, as found on the hosts: its binary, its version on
 * every host, and which of the wanted trace events it can emit (the others are named, and the
 * metrics that need them will say so).
 */
import { availableTraceEvents, qemuTraceEvents, qemuVersion } from '../hosts/facts.ts';
import type { HostTransport } from '../hosts/transport.ts';
import type { PreparedLab } from '../lab/prepare.ts';
import type { Profile } from '../profile/schema.ts';
import { qemuInvocation } from '../qemu/command.ts';
import type { VariantFacts } from '../results/types.ts';

export interface RunVariants {
  /** Variant → QEMU binary. */
  binaries: Map<string, string>;
  /** Variant → the trace events to enable (those its QEMU knows). */
  traceEvents: Map<string, string[]>;
  /** Variant → host → how its QEMU is invoked there (what the KVM probe runs). */
  invocations: Map<string, Map<string, string[]>>;
  /** For the manifest. */
  facts: VariantFacts[];
}

/** Which variants of which profile to inspect, and the trace events the run's metrics want. */
export interface VariantsToInspect {
  profile: Profile;
  variantNames: readonly string[];
  wantedEvents: readonly string[];
}

export async function inspectVariants(
  { profile, variantNames, wantedEvents }: VariantsToInspect,
  transports: ReadonlyMap<string, HostTransport>,
  lab: PreparedLab | undefined,
  note: (message: string) => void,
): Promise<RunVariants> {
  const result: RunVariants = { binaries: new Map(), traceEvents: new Map(), invocations: new Map(), facts: [] };
  for (const name of variantNames) {
    const variant = profile.variants.find((v) => v.name === name)!;
    const binary = lab?.binaries.get(name) ?? variant.qemu.binary ?? 'qemu-system-x86_64';
    result.binaries.set(name, binary);
    const qemuVersions: Record<string, string> = {};
    const enabled = new Set(wantedEvents);
    const missing = new Set<string>();
    const debian: NonNullable<VariantFacts['debian']> = {};
    const invocations = new Map<string, string[]>();
    result.invocations.set(name, invocations);
    for (const [hostName, transport] of transports) {
      const root = lab?.roots.get(name)?.get(hostName);
      if (root) debian[hostName] = { suite: root.suite, root: root.root, package: root.package, version: root.version, mirror: root.mirror };
      const invocation = qemuInvocation(variant, binary, root?.root);
      invocations.set(hostName, invocation);
      qemuVersions[hostName] = await qemuVersion(transport, invocation);
      const known = availableTraceEvents(wantedEvents, await qemuTraceEvents(transport, invocation));
      for (const m of known.missing) {
        enabled.delete(m);
        missing.add(m);
      }
    }
    result.traceEvents.set(name, [...enabled]);
    result.facts.push({
      name,
      binary,
      qemuVersion: qemuVersions,
      capabilities: variant.capabilities,
      parameters: variant.parameters,
      extraArgs: variant.extraArgs,
      traceEvents: [...enabled],
      traceEventsMissing: [...missing],
      ...(Object.keys(debian).length ? { debian } : {}),
    });
    if (missing.size > 0) note(`${name}: QEMU cannot trace ${[...missing].join(', ')}; metrics that need them will say so`);
  }
  return result;
}
