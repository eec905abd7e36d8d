/**
 * `softlab up --two-hosts`: two lab VMs (hostA, hostB) from the same cached image, each its own
 * machine as far as the harness can tell (own boot, kernel, clock, vdpa_sim_net devices, sshd on
 * its own loopback port), joined by a private link that carries the migration stream: a QEMU
 * stream netdev over a unix socket in hostA's run directory (hostA listens, hostB connects), so
 * no address outside the two VMs is ever used.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { SshTransport } from '../hosts/ssh.ts';
import { DEFAULT_PAIR_PORT, softlabPaths, type SoftlabPaths } from './paths.ts';
import { labDown, labUp, LAB_VM_NAME, readState, sshArgs, type LabInstance, type LabVmSettings, type LabVmState } from './vm.ts';
import type { ThpMode } from './paths.ts';

export interface PairHost {
  name: 'hostA' | 'hostB';
  /** Added to the first port (`--port`): hostA's sshd on it, hostB's on the next. */
  portOffset: number;
  /** The host's address on the link, the profile's migrationAddress. */
  linkAddress: string;
  linkMac: string;
  server: boolean;
}

/** The link is a /24 of its own (10.13.0.0, after issue 13), on neither VM's user network (10.0.2.0/24). */
export const PAIR_HOSTS: readonly PairHost[] = [
  { name: 'hostA', portOffset: 0, linkAddress: '10.13.0.1', linkMac: '52:54:00:0d:13:0a', server: true },
  { name: 'hostB', portOffset: 1, linkAddress: '10.13.0.2', linkMac: '52:54:00:0d:13:0b', server: false },
];
export const LINK_PREFIX = 24;

export function pairInstance(paths: SoftlabPaths, host: PairHost): LabInstance {
  const hostA = join(paths.run, 'hostA');
  return {
    vmName: `${LAB_VM_NAME}-${host.name}`,
    run: join(paths.run, host.name),
    knownHosts: join(paths.root, 'ssh', `known_hosts.${host.name}`),
    link: { socket: join(hostA, 'link.sock'), server: host.server, mac: host.linkMac },
  };
}

/**
 * Brings the link interface (found by its MAC) up with the host's address, and prints its name.
 * No time synchronisation runs in the image; this also reports whether any would.
 */
export const LINK_SCRIPT = `
set -eu
mac=$1 address=$2
name=
for dev in /sys/class/net/*; do
  [ "$(cat "$dev/address")" = "$mac" ] && name=\${dev##*/}
done
[ -n "$name" ] || { echo "no interface with MAC $mac" >&2; exit 3; }
ip link set "$name" up
ip addr replace "$address" dev "$name"
echo "interface=$name"
`;

/** Whether the peer's sshd answers on its link address (bash's /dev/tcp: no ping in the image). */
export const PEER_SCRIPT = String.raw`
timeout 20 bash -c 'exec 3<>/dev/tcp/$1/22 && head -c 7 <&3' _ "$1"
`;

export interface PairState {
  hosts: Array<LabVmState & { name: string; linkAddress: string; linkInterface: string }>;
  linkSocket: string;
}

async function ssh(state: LabVmState, script: string, args: readonly string[]): Promise<string> {
  const argv = sshArgs(state, ['bash', '-s', '--', ...args]);
  const result = await execa(argv[0], argv.slice(1), { input: script, reject: false, timeout: 60_000 });
  if (result.exitCode !== 0) throw new Error(`${state.host}:${state.port}: ${String(result.stderr).trim() || `exit ${result.exitCode}`}`);
  return String(result.stdout);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function pairUp(
  settings: Partial<LabVmSettings> & { print: (line: string) => void; bootTimeoutMs?: number; thp?: ThpMode },
  paths: SoftlabPaths = softlabPaths(),
): Promise<PairState> {
  const first = settings.port ?? DEFAULT_PAIR_PORT;
  const [a, b] = PAIR_HOSTS.map((h) => ({ host: h, instance: pairInstance(paths, h), settings: { ...settings, port: first + h.portOffset } }));
  // hostB's QEMU connects to hostA's link socket at start-up: it must exist first
  const upA = labUp(a.settings, paths, a.instance);
  const deadline = Date.now() + 60_000;
  while (!existsSync(a.instance.link!.socket)) {
    const failed = await Promise.race([
      upA.then(
        () => false,
        () => true,
      ),
      sleep(200).then(() => false),
    ]);
    if (failed || Date.now() > deadline) break;
  }
  const [stateA, stateB] = await Promise.allSettled([upA, labUp(b.settings, paths, b.instance)]);
  if (stateA.status === 'rejected' || stateB.status === 'rejected') {
    await pairDown({ print: settings.print }, paths);
    const reasons = [stateA, stateB].flatMap((s, i) => (s.status === 'rejected' ? [`${PAIR_HOSTS[i].name}: ${(s.reason as Error).message}`] : []));
    throw new Error(`the two-host lab did not come up:\n  ${reasons.join('\n  ')}`);
  }
  const hosts: PairState['hosts'] = [];
  for (const [i, state] of [stateA.value, stateB.value].entries()) {
    const h = PAIR_HOSTS[i];
    const out = await ssh(state, LINK_SCRIPT, [h.linkMac, `${h.linkAddress}/${LINK_PREFIX}`]);
    hosts.push({ ...state, name: h.name, linkAddress: h.linkAddress, linkInterface: /interface=(\S+)/.exec(out)?.[1] ?? '?' });
  }
  for (const [i, state] of hosts.entries()) {
    const peer = hosts[1 - i];
    const banner = await ssh(state, PEER_SCRIPT, [peer.linkAddress]).catch((error: Error) => error.message);
    if (!banner.startsWith('SSH-')) {
      await pairDown({ print: settings.print }, paths);
      throw new Error(`the link does not carry traffic: ${state.name} cannot reach ${peer.name}'s sshd at ${peer.linkAddress}:22 (${banner.trim()})`);
    }
  }
  return { hosts, linkSocket: a.instance.link!.socket };
}

export async function pairDown(o: { print: (line: string) => void }, paths: SoftlabPaths = softlabPaths()): Promise<void> {
  // hostB first: it is the link's client
  for (const h of [...PAIR_HOSTS].reverse()) await labDown(o, paths, pairInstance(paths, h));
}

export async function pairStatus(paths: SoftlabPaths = softlabPaths()): Promise<Array<{ name: string; state: LabVmState | null }>> {
  return Promise.all(PAIR_HOSTS.map(async (h) => ({ name: h.name, state: await readState(paths, pairInstance(paths, h)) })));
}

/** An ssh transport to a running two-host lab VM, as a profile would configure it. */
export async function pairTransport(name: string, paths: SoftlabPaths = softlabPaths()): Promise<SshTransport> {
  const host = PAIR_HOSTS.find((h) => h.name === name);
  if (!host) throw new Error(`no lab host ${JSON.stringify(name)}: the two-host lab has ${PAIR_HOSTS.map((h) => h.name).join(' and ')}`);
  const state = await readState(paths, pairInstance(paths, host));
  if (!state) throw new Error(`${name} is not running: \`vdpa-bench softlab up --two-hosts\` first`);
  return new SshTransport(name, {
    host: state.host,
    port: state.port,
    user: state.user,
    identityFile: state.identityFile,
    knownHostsFile: state.knownHostsFile,
    strictHostKeyChecking: 'yes',
    controlPersist: '10m',
    options: [],
  });
}
