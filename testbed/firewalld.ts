/**
 * A real firewalld for the tests, as a RHEL host runs it, without touching this machine's own
 * network: a network namespace (the destination, 10.77.N.2) joined by a veth pair to a second one
 * (the source, 10.77.N.1), the firewall's with a private mount namespace with its own /run/dbus and /run/firewalld, its own system bus
 * (dbus-daemon --system) and firewalld with its shipped configuration (default zone public).
 * `host` runs commands inside it (nsenter), as a lab host's transport would. stop() ends every
 * process in the namespace by pid and removes it. Needs root, firewalld, nft and dbus-daemon.
 */
import { randomBytes } from 'node:crypto';
import { execa, type ResultPromise } from 'execa';
import { LocalTransport } from '../harness/hosts/local.ts';

export interface TestFirewall {
  /** The namespace's address: where a destination would listen. */
  address: string;
  /** The source namespace's address. */
  peer: string;
  namespace: string;
  /** Commands in the source namespace (a client connecting to the destination). */
  source: LocalTransport;
  /** Commands inside the namespace (its firewall, its network). */
  host: LocalTransport;
  stop(): Promise<void>;
}

const START = String.raw`
set -e
mount -t tmpfs tmpfs /run/dbus
mkdir -p /run/firewalld && mount -t tmpfs tmpfs /run/firewalld
dbus-daemon --system --fork --nopidfile
exec firewalld --nofork --nopid
`;

/** `firewalld: false`: the namespace with nftables only (for the nftables tests). */
export async function startFirewall(options: { firewalld: boolean }): Promise<TestFirewall> {
  const id = randomBytes(2).readUInt16BE() % 250;
  const namespace = `vbfw${randomBytes(3).toString('hex')}`;
  const [outside, inside] = [`${namespace}a`, `${namespace}b`];
  const address = `10.77.${id}.2`;
  const peer = `10.77.${id}.1`;
  const sourceNs = `${namespace}s`;
  await execa('ip', ['netns', 'add', namespace]);
  await execa('ip', ['netns', 'add', sourceNs]);
  const source = new LocalTransport(sourceNs, ['ip', 'netns', 'exec', sourceNs]);
  let daemon: ResultPromise | undefined;
  // every process in the namespaces is one this helper started (firewalld, its bus, polkitd it activated, a test's listener)
  const pidsIn = async (ns: string) => (await execa('ip', ['netns', 'pids', ns], { reject: false })).stdout.split('\n').filter(Boolean);
  const stop = async () => {
    for (const pid of [...(await pidsIn(namespace)), ...(await pidsIn(sourceNs))]) await execa('kill', ['-TERM', pid], { reject: false });
    await daemon?.catch(() => undefined);
    for (const pid of [...(await pidsIn(namespace)), ...(await pidsIn(sourceNs))]) await execa('kill', ['-KILL', pid], { reject: false });
    await execa('ip', ['netns', 'del', sourceNs], { reject: false });
    await execa('ip', ['netns', 'del', namespace], { reject: false });
  };
  try {
    // made inside the source namespace: nothing is added to this machine's own network
    await source.run(['ip', 'link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
    await source.run(['ip', 'link', 'set', inside, 'netns', namespace]);
    await source.run(['ip', 'addr', 'add', `${peer}/24`, 'dev', outside]);
    await source.run(['ip', 'link', 'set', outside, 'up']);
    const inNs = (args: string[]) => execa('ip', ['netns', 'exec', namespace, ...args]);
    await inNs(['ip', 'addr', 'add', `${address}/24`, 'dev', inside]);
    await inNs(['ip', 'link', 'set', inside, 'up']);
    await inNs(['ip', 'link', 'set', 'lo', 'up']);
    if (!options.firewalld) return { address, peer, namespace, source, host: new LocalTransport(namespace, ['ip', 'netns', 'exec', namespace]), stop };
    daemon = execa('ip', ['netns', 'exec', namespace, 'unshare', '--mount', '--propagation', 'private', 'bash', '-c', START], {
      reject: false,
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'pipe',
    });
    const pid = daemon.pid!;
    const host = new LocalTransport(namespace, ['nsenter', `--target=${pid}`, '--mount', '--net', '--']);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const state = await host.run(['firewall-cmd', '--state'], { allowFailure: true });
      if (state.stdout.trim() === 'running') break;
      if (Date.now() > deadline || daemon.exitCode !== null) throw new Error(`test firewalld did not come up: ${state.stdout}${state.stderr}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    return { address, peer, namespace, source, host, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
