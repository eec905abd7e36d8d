/**
 * `plan` for the lab in a box: the guest build, the prober build and the namespaced network as
 * the steps they are, and the profile as the run would see it after prepareLabBox (hosts on
 * their namespaces, the guest as kernel + initrd, a tap per host), so the migrations section
 * shows the real QEMU command lines. Names only known at start are placeholders.
 */
import { join } from 'node:path';
import { describeGuestBuild } from '../guest/build.ts';
import { NetnsTransport } from '../hosts/local.ts';
import { shellJoin } from '../hosts/transport.ts';
import { announceParameters, labHooks, reachArgv } from '../labbox/hooks.ts';
import { builtinGuestOf, labBoxBootTimeoutMs, labBoxGuest, ontoNamespaces } from '../labbox/prepare.ts';
import { PROBE_DIR, probeLogName } from '../metrics/network.ts';
import { namespaceName, netnsLabCommands } from '../labbox/netns.ts';
import { proberArgv, proberBuild } from '../labbox/prober.ts';
import type { MigrationHooks } from '../migration/interfaces.ts';
import { pairHosts } from '../profile/load.ts';
import type { Profile } from '../profile/schema.ts';
import { parseDuration } from '../profile/size.ts';

export const NETNS_TOKEN = 'TOKEN';

export interface PlannedLabBox {
  /** The profile as the engine runs it (hosts and guest rewritten). */
  profile: Profile;
  /** The lab in a box's hooks, each describing what it does before a migration (the boot wait, the probe). */
  hooks: MigrationHooks[];
  /** The set-up section, printed before the hosts. */
  lines: string[];
  /** What happens after each migration beyond QMP (the integrity verdict, the probe's end), for the migrations section. */
  afterMigration(seq: number): string[];
  teardown: string[];
}

/** What only the run knows of the lab in a box: placeholders in `plan`, the run's own values when a plan is compared with it. */
export interface LabBoxFacts {
  /** The run's results directory (the probe logs go into it). */
  runDir: string;
  /** The run's namespace token (NETNS_TOKEN). */
  netnsToken: string;
  /** The built guest's cache directory (…/IMAGE-GUEST_KEY). */
  guestDir?: string;
}

export async function planLabBox(profile: Profile, facts: LabBoxFacts): Promise<PlannedLabBox> {
  const lines: string[] = [];
  const say = (line: string) => lines.push(line);
  const build = describeGuestBuild(builtinGuestOf(profile).kernelPackage);
  const guestDir = facts.guestDir ?? build.dir;
  const { guest, cmdline, variantCmdlines, effective } = labBoxGuest(profile, { kernel: join(guestDir, 'vmlinuz'), initrd: join(guestDir, 'initrd.gz') });
  const bootTimeoutMs = labBoxBootTimeoutMs(profile);

  say(`== lab in a box (on this machine, as root) ==`);
  say(`## guest build: ${guest.kernelPackage} + busybox-static, cached (GUEST_KEY: hash of both package versions, /init and the module list)`);
  for (const l of build.lines) say(l);
  say(`# kernel command line: ${cmdline}`);
  for (const [name, line] of variantCmdlines) say(`# variant ${name}'s kernel command line: ${line}`);

  const network = profile.network;
  if (!network) {
    const note = () => undefined;
    return {
      profile: effective,
      hooks: [
        {
          ...labHooks({ guest, variantCmdlines, bootTimeoutMs, note }),
          describeBeforeMigration: ({ planned }) => [`# before migration ${planned.seq}: wait for vb-ready on the source console`],
        },
      ],
      lines,
      afterMigration: (seq) => [`# after migration ${seq}: the guest's integrity verdict on the destination console (up to ${guest.integrity.verdictTimeout})`],
      teardown: [],
    };
  }
  return planNetworkLab({ profile, effective, guest, variantCmdlines, network, facts, bootTimeoutMs, lines });
}

type BuiltinGuest = Extract<Profile['vm']['guest'], { kind: 'builtin-linux' }>;

/** What the network part of the plan starts from: the profile, its rewritten copy, the guest and the lines said so far. */
interface NetworkLabPlan {
  profile: Profile;
  effective: Profile;
  guest: BuiltinGuest;
  variantCmdlines: Map<string, string>;
  network: NonNullable<Profile['network']>;
  facts: LabBoxFacts;
  bootTimeoutMs: number;
  lines: string[];
}

/** With a network: the prober build, the namespaces and their links, the hosts moved into them, and a probe across each migration. */
async function planNetworkLab(plan: NetworkLabPlan): Promise<PlannedLabBox> {
  const { profile, effective, guest, variantCmdlines, network, facts, bootTimeoutMs, lines } = plan;
  const say = (line: string) => lines.push(line);
  const [nameA, nameB] = pairHosts(profile);
  const pair = [nameA, nameB].map((n) => profile.hosts.find((h) => h.name === n)!);
  const labels = pair.map((h) => (h.transport.kind === 'netns' ? h.transport.namespace : h.name)) as [string, string];
  const namespaces = Object.fromEntries([...labels, network.peer].map((l) => [l, namespaceName(facts.netnsToken, l)]));
  const prober = await proberBuild();
  say(`## ICMP prober build (only when ${prober.binary} is missing)`);
  say(shellJoin(prober.gcc));
  say(
    `## network namespaces: ${Object.values(namespaces).join(', ')} (${NETNS_TOKEN}: 6 hex digits chosen at start; leftovers of dead runs are removed first)`,
  );
  say(
    `# a veth link mig0 for the migration stream, a bridge br0 per namespace, a tap0 per host for the guest NIC, veths up0/dA/dB joining them into one L2 segment`,
  );
  for (const args of netnsLabCommands(
    { hosts: labels, peer: network.peer, peerAddress: network.peerAddress, migrationAddresses: network.migrationAddresses },
    namespaces,
  ))
    say(shellJoin(['ip', ...args]));

  effective.hosts = ontoNamespaces(effective.hosts, pair, namespaces, network);
  const peer = new NetnsTransport(network.peer, namespaces[network.peer]);
  const probeDir = join(facts.runDir, PROBE_DIR);
  const probeFile = (seq: number) => join(probeDir, probeLogName(seq));
  const hooks: MigrationHooks[] = [
    {
      ...labHooks({ guest, variantCmdlines, bootTimeoutMs, note: () => undefined, network: { settings: network, peer, prober: prober.binary, probeDir } }),
      describeBeforeMigration: ({ planned: { seq } }) => probeStartLines({ seq, guest, network, peer, prober: prober.binary, file: probeFile(seq) }),
    },
  ];
  return {
    profile: effective,
    hooks,
    lines,
    afterMigration: (seq) => [
      `# after migration ${seq}: the guest's integrity verdict on the destination console (up to ${guest.integrity.verdictTimeout}), probe tail ${network.probe.tail}, then SIGTERM the probe and read ${probeFile(seq)}`,
    ],
    teardown: [
      `# the network lab: processes left in its namespaces are ended, then`,
      ...Object.values(namespaces).map((ns) => shellJoin(['ip', 'netns', 'delete', ns])),
    ],
  };
}

/** Before a migration: the guest must answer the peer, the announce parameters are set, the probe starts. */
function probeStartLines(probe: {
  seq: number;
  guest: BuiltinGuest;
  network: NonNullable<Profile['network']>;
  peer: NetnsTransport;
  prober: string;
  file: string;
}): string[] {
  const { seq, guest, network, peer, prober, file } = probe;
  const guestIp = guest.address.split('/')[0];
  const argv = proberArgv({ binary: prober, target: guestIp, rateHz: network.probe.rate, replyTimeoutMs: parseDuration(network.probe.replyTimeout) });
  const announce = announceParameters(network.announce);
  return [
    `# before migration ${seq}: wait for vb-ready on the source console; the guest must answer the peer`,
    `[${network.peer}] ${peer.describe(reachArgv(prober, guestIp, 120))}`,
    ...(Object.keys(announce).length > 0 ? [`[both] QMP: ${JSON.stringify({ execute: 'migrate-set-parameters', arguments: announce })}`] : []),
    `[${network.peer}] start the probe: ${peer.describe(argv)}  >${file} 2>${file}.err`,
  ];
}
