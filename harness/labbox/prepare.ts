/**
 * Turns a profile's lab-in-a-box settings into what the engine runs: the built guest (kernel,
 * initrd, command line), the network namespaces (names unique to this run), the hosts rewritten
 * onto them, and the hooks. close() removes everything it created.
 */
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { buildGuest, type BuiltGuest } from '../guest/build.ts';
import { PROBE_DIR } from '../metrics/network.ts';
import { guestKernelCmdline } from '../profile/guest-cmdline.ts';
import { NetnsTransport } from '../hosts/local.ts';
import type { HostTransport } from '../hosts/transport.ts';
import type { MigrationHooks } from '../migration/interfaces.ts';
import { checkLabBox } from '../profile/lab-box-checks.ts';
import { pairHosts } from '../profile/load.ts';
import type { BuiltinLinuxGuest, Host, NetworkLab, Profile } from '../profile/schema.ts';
import { parseDuration } from '../profile/size.ts';
import type { LabBoxFacts } from '../results/types.ts';
import { labHooks, NETWORK_METRICS } from './hooks.ts';
import { cleanupLeftovers, createNetnsLab, type NetnsLab } from './netns.ts';
import { buildProber } from './prober.ts';

export interface PreparedLabBox {
  profile: Profile;
  hooks: MigrationHooks[];
  /** Metrics the hooks record beside the trace metrics. */
  metricNames: string[];
  facts: LabBoxFacts;
  close(): Promise<void>;
}

/** Where the run writes (the probe logs go into it), its notes, and the wrapper of the transports it opens. */
export interface LabBoxRun {
  runDir: string;
  note: (message: string) => void;
  track?: (transport: HostTransport) => HostTransport;
}

/** The profile's built-in Linux guest; any other guest is an error naming it. */
export function builtinGuestOf(profile: Profile): BuiltinLinuxGuest {
  const guest = profile.vm.guest;
  if (guest.kind !== 'builtin-linux') throw new Error(`vm.guest.kind: the lab in a box needs builtin-linux (the guest here is ${guest.kind})`);
  return guest;
}

/** The guest the lab in a box boots: its command line, a variant's own, and the profile as the engine runs it (pure; `plan` shares it). */
export function labBoxGuest(profile: Profile, files: { kernel: string; initrd: string }) {
  const guest = builtinGuestOf(profile);
  const cmdline = guestKernelCmdline(guest);
  // a variant may run another workload: its own command line, checked before anything is built
  const variantCmdlines = new Map(profile.variants.filter((v) => v.workload).map((v) => [v.name, guestKernelCmdline({ ...guest, workload: v.workload! })]));
  const effective: Profile = structuredClone(profile);
  effective.vm.guest = { kind: 'kernel', kernel: files.kernel, initrd: files.initrd, append: cmdline };
  return { guest, cmdline, variantCmdlines, effective };
}

/** How long a freshly booted guest may take to print vb-ready: 3 minutes, or QMP's own timeout when that is longer. */
export function labBoxBootTimeoutMs(profile: Profile): number {
  return Math.max(180_000, parseDuration(profile.migration.qmpTimeout));
}

export async function prepareLabBox(profile: Profile, { runDir, note, track = (t) => t }: LabBoxRun): Promise<PreparedLabBox> {
  // loadProfile has run these checks; a profile built another way gets the same words here
  const [nameA, nameB] = pairHosts(profile);
  const problems = checkLabBox(profile, [nameA, nameB]);
  if (problems.length > 0) throw new Error(problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; '));
  const pair = [nameA, nameB].map((n) => profile.hosts.find((h) => h.name === n)!);
  const built: BuiltGuest = await buildGuest(builtinGuestOf(profile).kernelPackage, note);
  const { guest, cmdline, variantCmdlines, effective } = labBoxGuest(profile, built);
  const facts: LabBoxFacts = { guest: guestFacts({ profile, guest, built, cmdline, variantCmdlines }) };
  const hookOptions = { guest, variantCmdlines, bootTimeoutMs: labBoxBootTimeoutMs(profile), note };

  if (!profile.network) {
    return { profile: effective, hooks: [labHooks(hookOptions)], metricNames: [], facts, close: async () => {} };
  }

  const network = profile.network;
  // checkLabBox made both hosts of the pair netns hosts
  const labels = pair.map((host) => (host.transport.kind === 'netns' ? host.transport.namespace : host.name)) as [string, string];
  const removed = await cleanupLeftovers();
  if (removed.removed.length > 0) note(`removed leftovers of earlier runs that died: ${removed.removed.join(', ')}`);
  const prober = await buildProber();
  const lab: NetnsLab = await createNetnsLab({
    hosts: labels,
    peer: network.peer,
    peerAddress: network.peerAddress,
    migrationAddresses: network.migrationAddresses,
  });
  try {
    effective.hosts = ontoNamespaces(effective.hosts, pair, lab.namespaces, network);
    const probeDir = join(runDir, PROBE_DIR);
    await mkdir(probeDir, { recursive: true });
    const peer = track(new NetnsTransport(network.peer, lab.namespaces[network.peer]));
    facts.network = networkFacts(network, lab, guest);
    return {
      profile: effective,
      hooks: [labHooks({ ...hookOptions, network: { settings: network, peer, prober, probeDir } })],
      metricNames: [...NETWORK_METRICS],
      facts,
      close: () => lab.close(),
    };
  } catch (error) {
    await lab.close();
    throw error;
  }
}

/** What the run records about the guest it built: packages, versions, command lines (a variant's own workload included). */
function guestFacts({
  profile,
  guest,
  built,
  cmdline,
  variantCmdlines,
}: {
  profile: Profile;
  guest: BuiltinLinuxGuest;
  built: BuiltGuest;
  cmdline: string;
  variantCmdlines: ReadonlyMap<string, string>;
}): LabBoxFacts['guest'] {
  return {
    kernelPackage: built.kernelPackage,
    kernelPackageVersion: built.kernelPackageVersion,
    kernelRelease: built.kernelRelease,
    busyboxVersion: built.busyboxVersion,
    modules: built.modules,
    initrdBytes: built.initrdBytes,
    cmdline,
    workload: guest.workload,
    ...(variantCmdlines.size > 0
      ? {
          variants: Object.fromEntries(
            profile.variants.flatMap((v) => {
              const cmdline = variantCmdlines.get(v.name);
              return v.workload && cmdline !== undefined ? [[v.name, { workload: v.workload, cmdline }]] : [];
            }),
          ),
        }
      : {}),
    dir: built.dir,
  };
}

/**
 * The pair's netns hosts moved onto this run's namespaces (label → namespace name), each with its
 * migration address on the lab network. `plan` moves them onto the placeholder names.
 */
export function ontoNamespaces(hosts: Host[], pair: Host[], namespaces: Readonly<Record<string, string>>, network: NetworkLab): Host[] {
  return hosts.map((host) => {
    const index = pair.findIndex((p) => p.name === host.name);
    if (index < 0 || host.transport.kind !== 'netns') return host;
    return {
      ...host,
      transport: { kind: 'netns', namespace: namespaces[host.transport.namespace] },
      migrationAddress: network.migrationAddresses[index].split('/')[0],
    };
  });
}

/** What the run records about the lab network and its probe. */
function networkFacts(network: NetworkLab, lab: NetnsLab, guest: BuiltinLinuxGuest): LabBoxFacts['network'] {
  return {
    kind: network.kind,
    namespaces: lab.namespaces,
    peerAddress: network.peerAddress,
    guestAddress: guest.address,
    migrationAddresses: network.migrationAddresses,
    announce: network.announce,
    probe: { ...network.probe, tool: 'icmp-prober (raw ICMP, fixed rate, SO_TIMESTAMPNS)' },
  };
}
