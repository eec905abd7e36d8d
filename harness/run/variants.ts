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
  /** For the manifest. */
  facts: VariantFacts[];
}

export async function inspectVariants(
  profile: Profile,
  variantNames: readonly string[],
  transports: ReadonlyMap<string, HostTransport>,
  wantedEvents: readonly string[],
  lab: PreparedLab | undefined,
  note: (message: string) => void,
): Promise<RunVariants> {
  const result: RunVariants = { binaries: new Map(), traceEvents: new Map(), facts: [] };
  for (const name of variantNames) {
    const variant = profile.variants.find((v) => v.name === name)!;
    const binary = lab?.binaries.get(name) ?? variant.qemu.binary ?? 'qemu-system-x86_64';
    result.binaries.set(name, binary);
    const qemuVersions: Record<string, string> = {};
    const enabled = new Set(wantedEvents);
    const missing = new Set<string>();
    for (const [hostName, transport] of transports) {
      const invocation = qemuInvocation(variant, binary);
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
    });
    if (missing.size > 0) note(`${name}: QEMU cannot trace ${[...missing].join(', ')}; metrics that need them will say so`);
  }
  return result;
}
