/**
 * The accelerator a run's guests use, and why: `vm.accel` of the profile, and under `auto` the KVM
 * probe of every QEMU invocation the run will launch on every host (hosts/kvm-probe.ts). Auto
 * takes KVM only when every probe says usable; an unusable or unknown probe means TCG, with the
 * probe's reason. A first boot that still fails with KVM switches the run to TCG
 * (migration/accel-fallback.ts); the manifest records both.
 */
import { probeKvm, type KvmProbeResult } from '../hosts/kvm-probe.ts';
import type { HostTransport } from '../hosts/transport.ts';
import type { Profile } from '../profile/schema.ts';
import { invocationLabel } from '../qemu/root.ts';
import type { RunManifest } from '../results/types.ts';

export type AccelProbe = NonNullable<RunManifest['accel']['probes']>[number];

export interface AccelChoice {
  used: 'kvm' | 'tcg';
  reason: string;
  probes: AccelProbe[];
}

/**
 * One probe per host and distinct invocation (variants that differ only in migration settings run
 * the same QEMU), hosts in parallel. Nothing is probed when the profile asks for TCG.
 */
export async function probeAccel(
  profile: Profile,
  invocations: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>,
  transports: ReadonlyMap<string, HostTransport>,
): Promise<AccelProbe[]> {
  if (profile.vm.accel === 'tcg') return [];
  const perHost = await Promise.all(
    [...transports].map(async ([host, transport]) => {
      const byInvocation = new Map<string, { invocation: readonly string[]; variants: string[] }>();
      for (const [variant, byHost] of invocations) {
        const invocation = byHost.get(host);
        if (!invocation) continue;
        const key = JSON.stringify(invocation);
        const entry = byInvocation.get(key) ?? { invocation, variants: [] };
        entry.variants.push(variant);
        byInvocation.set(key, entry);
      }
      const probes: AccelProbe[] = [];
      for (const { invocation, variants } of byInvocation.values()) {
        const label = invocationLabel(invocation);
        const result: KvmProbeResult = await probeKvm(transport, { invocation, label, machine: profile.vm.machine, cpuModel: profile.vm.cpuModel });
        probes.push({ host, variants, qemu: label, ...result });
      }
      return probes;
    }),
  );
  return perHost.flat();
}

const probeName = (p: AccelProbe) => `${p.host} (${p.variants.join(', ')})`;

/** The accelerator the run starts with, and the sentence that says why. */
export function chooseAccel(requested: Profile['vm']['accel'], probes: readonly AccelProbe[]): AccelChoice {
  if (requested === 'tcg') return { used: 'tcg', reason: 'the profile asks for tcg', probes: [...probes] };
  const blocked = probes.find((p) => p.verdict === 'unusable') ?? probes.find((p) => p.verdict === 'unknown');
  if (requested === 'kvm') {
    const doubt = blocked ? ` (although the KVM probe on ${probeName(blocked)} says ${blocked.verdict}: ${blocked.reason})` : '';
    return { used: 'kvm', reason: `the profile asks for kvm${doubt}`, probes: [...probes] };
  }
  if (probes.length === 0) return { used: 'tcg', reason: 'auto: no KVM probe ran, so KVM is not known to work', probes: [] };
  if (blocked?.verdict === 'unusable')
    return { used: 'tcg', reason: `auto: KVM is not usable on ${probeName(blocked)}: ${blocked.reason}`, probes: [...probes] };
  if (blocked)
    return { used: 'tcg', reason: `auto: KVM is not known to work on ${probeName(blocked)} (probe unknown: ${blocked.reason})`, probes: [...probes] };
  return { used: 'kvm', reason: "auto: a KVM firmware boot of each variant's QEMU ran on every host", probes: [...probes] };
}

/**
 * A resumed run goes on with the accelerator it switched to: a run that fell back to TCG at its
 * first boot stays on TCG whatever the probe says now.
 */
export function resumedAccel(manifest: RunManifest, fresh: AccelChoice): AccelChoice {
  const fallback = manifest.accel.fallback;
  return fallback ? { used: 'tcg', reason: manifest.accel.reason, probes: fresh.probes } : fresh;
}
