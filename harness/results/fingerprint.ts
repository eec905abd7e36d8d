/**
 * A lab's fingerprint (pure): what must be the same for two nights' downtimes to be comparable —
 * the hosts (kernel, CPU, firmware), the QEMU builds and their migration settings, the accel.
 */
import { createHash } from 'node:crypto';
import type { RunManifest } from './types.ts';

export interface Fingerprint {
  hash: string;
  parts: Record<string, string>;
}

export function labFingerprint(manifest: RunManifest): Fingerprint {
  const parts: Record<string, string> = { profile: manifest.profile.name, accel: manifest.accel.used };
  for (const host of [...manifest.hosts].sort((a, b) => a.name.localeCompare(b.name))) {
    parts[`${host.name} kernel`] = String(host.kernel ?? '?');
    parts[`${host.name} cpu`] = String(host.cpuModel ?? '?');
    for (const key of ['biosVersion', 'biosDate', 'nicFirmware'] as const) if (host[key] !== undefined) parts[`${host.name} ${key}`] = String(host[key]);
  }
  for (const variant of [...manifest.variants].sort((a, b) => a.name.localeCompare(b.name))) {
    for (const [host, version] of Object.entries(variant.qemuVersion).sort()) parts[`${variant.name} QEMU on ${host}`] = version;
    parts[`${variant.name} settings`] = JSON.stringify({
      capabilities: sortKeys(variant.capabilities),
      parameters: sortKeys(variant.parameters),
      extraArgs: variant.extraArgs,
    });
  }
  const canonical = JSON.stringify(Object.entries(parts).sort(([a], [b]) => a.localeCompare(b)));
  return { hash: createHash('sha256').update(canonical).digest('hex').slice(0, 16), parts };
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

/** What differs between two fingerprints, as "key: before → after" lines. */
export function fingerprintChanges(before: Fingerprint, after: Fingerprint): string[] {
  const keys = [...new Set([...Object.keys(before.parts), ...Object.keys(after.parts)])].sort();
  return keys.filter((k) => before.parts[k] !== after.parts[k]).map((k) => `${k}: ${before.parts[k] ?? '(none)'} → ${after.parts[k] ?? '(none)'}`);
}
