/**
 * Which vhost-vdpa character device each QEMU process opens. A vhost-vdpa device opens once, so
 * the source and the destination each need their own. Each side of the pair uses its host's
 * first listed vDPA device; when both sides are the same host (a single lab machine or the soft
 * lab VM), the first side uses the first device and the second side the second.
 */
import type { HostTransport } from '../hosts/transport.ts';
import type { Profile } from '../profile/schema.ts';
import type { MigrationHooks } from './engine.ts';
import type { PlannedMigration } from './schedule.ts';

/** 0 for the pair's first host, 1 for its second (pure). */
export function pairSide(planned: Pick<PlannedMigration, 'direction'>, role: 'src' | 'dst'): 0 | 1 {
  return (planned.direction === 0) === (role === 'src') ? 0 : 1;
}

/** The vDPA device name a side uses (pure). */
export function deviceForSide(profile: Profile, pair: readonly [string, string], side: 0 | 1): string | undefined {
  const host = profile.hosts.find((h) => h.name === pair[side]);
  const devices = host?.vdpa?.devices ?? [];
  if (devices.length === 0) return undefined;
  const sameHost = pair[0] === pair[1];
  return devices[sameHost ? side % devices.length : 0].name;
}

const RESOLVE = String.raw`
d=/sys/bus/vdpa/devices/$1
[ -d "$d" ] || { echo "no vDPA device $1 (vdpa dev show lists: $(vdpa dev show 2>/dev/null | cut -d: -f1 | tr '\n' ' '))" >&2; exit 3; }
for v in "$d"/vhost-vdpa-*; do [ -e "$v" ] && { echo "/dev/$(basename "$v")"; exit 0; }; done
echo "vDPA device $1 is not bound to vhost_vdpa (driver: $(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null))" >&2
exit 4
`;

export async function vhostVdpaNode(host: HostTransport, device: string): Promise<string> {
  const r = await host.script(RESOLVE, [device], { allowFailure: true, timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new Error(`${host.hostName}: ${r.stderr.trim() || `cannot resolve vDPA device ${device}`}`);
  return r.stdout.trim();
}

export function vdpaDeviceHook(profile: Profile, pair: readonly [string, string]): MigrationHooks {
  const cache = new Map<string, string>();
  return {
    async launch({ host, role, planned }) {
      const side = pairSide(planned, role);
      const device = deviceForSide(profile, pair, side);
      if (!device) return {};
      const key = `${host.name}\0${device}`;
      let node = cache.get(key);
      if (!node) cache.set(key, (node = await vhostVdpaNode(host.transport, device)));
      return { vhostVdpaDevice: node };
    },
  };
}
