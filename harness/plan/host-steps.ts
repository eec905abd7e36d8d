/**
 * The plan's per-host steps around the checks and builds: how the host is logged into (sudo), its
 * site scripts, and the facts the manifest records.
 */
import { describeCommand } from '../hosts/command.ts';
import { SUDO_PROBE, SUDO_REQUIREMENT } from '../hosts/sudo.ts';
import type { HostTransport } from '../hosts/transport.ts';
import type { VdpaHost } from '../lab/vdpa.ts';
import type { Host } from '../profile/schema.ts';
import { factsCommand } from '../provision/facts.ts';
import { vhostVdpaDeviceCommand } from '../provision/preflight.ts';
import { describeSiteScripts } from '../provision/site-scripts.ts';
import { devicePlaceholder, type PlanContext } from './context.ts';

/** A host's login: with sudo, what it runs as, how that is checked and what sudo must allow. */
export function planSudo({ say }: PlanContext, host: Host, t: HostTransport): void {
  if (host.transport.kind !== 'ssh' || !host.transport.sudo) return;
  say(`# sudo: logs in as ${host.transport.user ?? 'the ssh default user'}; every command below runs as root through sudo -n -- (argument array intact)`);
  say(`# checked when the connection opens, before the lock (must print 0; a password prompt stops the run): ${t.describe([...SUDO_PROBE])}`);
  say(`# sudo must allow: ${SUDO_REQUIREMENT}`);
}

export type Section = (title: string) => void;

export function planSiteScripts({ site, say }: PlanContext, host: Host, t: HostTransport, section: Section): void {
  const siteLines = describeSiteScripts(site, host.name, t);
  if (siteLines.length === 0) return;
  section(`site scripts (zx; the ledger records what apply changed)`);
  for (const line of siteLines) say(line);
}

export function planHostFacts({ say }: PlanContext, vdpaHost: VdpaHost | undefined, t: HostTransport, section: Section): void {
  section(`host facts for the manifest`);
  say(`# kernel, CPU, memory, KVM, kernel command line (harness/hosts/facts.ts)`);
  say(`${t.describe(['bash', '-s'])} <<'SCRIPT'  # script: harness/hosts/facts.ts`);
  if (!vdpaHost) return;
  say(`# NIC model, ethtool -i, devlink dev info, vdpa dev config show, IOMMU, hugepages`);
  say(describeCommand(t, factsCommand(vdpaHost.vdpa)).split('\n')[0] + '  # script: harness/provision/facts.ts');
  for (const d of vdpaHost.vdpa.devices) {
    say(`# resolve ${devicePlaceholder(d.name)}`);
    say(describeCommand(t, vhostVdpaDeviceCommand(d.name)).split('\n')[0] + '  # script: harness/provision/preflight.ts');
  }
}
