/**
 * The migration port against a real firewall (testbed/firewalld.ts): firewalld with its shipped
 * zones in a network namespace, and a bare nftables ruleset in another. A connection to the
 * destination's migration port is refused until the port is opened; preflight says so with the
 * exact command (which, run, opens it); with migration.firewall: open set-up opens it for the
 * run, the ledger records it, and teardown closes it again.
 */
import avaTest from 'ava';
import type { LocalTransport } from '../../harness/hosts/local.ts';
import type { HostProcess } from '../../harness/hosts/transport.ts';
import { applySteps, ProvisionLedger, undoSteps } from '../../harness/provision/apply.ts';
import { firewallCheck, firewallState, firewallStep } from '../../harness/provision/firewall.ts';
import { runChecks } from '../../harness/provision/preflight.ts';
import { startFirewall, type TestFirewall } from '../../testbed/firewalld.ts';
import { requires } from '../helpers/requires.ts';

const test = requires('root', 'firewalld');
const PORT = 49152;

/** A listener on the destination's migration address, as QEMU's migrate-incoming would open. */
async function listen(fw: TestFirewall, port: number): Promise<HostProcess> {
  const listener = await fw.host.start([
    'python3',
    '-c',
    `import socket,time\ns=socket.socket()\ns.bind(("${fw.address}",${port}))\ns.listen()\ntime.sleep(60)`,
  ]);
  await new Promise((r) => setTimeout(r, 500));
  return listener;
}

/** Whether the source namespace can open a TCP connection to the port (bash's /dev/tcp, 3 s). */
async function reachable(fw: TestFirewall, port: number): Promise<boolean> {
  const r = await fw.source.run(['timeout', '3', 'bash', '-c', 'exec 3<>"/dev/tcp/$0/$1"', fw.address, String(port)], { allowFailure: true });
  return r.exitCode === 0;
}

const check = (fw: TestFirewall, port: number, firewall: 'check' | 'open') => runChecks(fw.host, [firewallCheck({ address: fw.address, port, firewall })]);

test.serial('firewalld (RHEL default zone): a closed migration port is refused, preflight gives the exact command, and that command opens it', async (t) => {
  const fw = await startFirewall({ firewalld: true });
  const listener = await listen(fw, PORT);
  try {
    t.false(await reachable(fw, PORT), 'the default zone rejects the port');
    const [problem, ...more] = await check(fw, PORT, 'check');
    t.deepEqual(more, []);
    const command = `firewall-cmd --zone=public --add-port=${PORT}/tcp`;
    t.is(
      problem,
      `${fw.namespace}: the migration port ${PORT}/tcp is blocked on ${fw.address} by firewalld (zone public): zone public does not list ${PORT}/tcp. Open it for the run: ${command}; or let the harness open it and close it at teardown: migration.firewall: open`,
    );
    // port 0 is refused whatever the profile allows: an ephemeral port cannot be opened ahead
    t.regex((await check(fw, 0, 'open'))[0], /migration\.port is 0: QEMU would listen on an ephemeral port the firewall blocks; set migration\.port/);
    // the command preflight printed, run as it says, is the remedy
    await fw.host.run(command.split(' '));
    t.true(await reachable(fw, PORT));
    t.deepEqual(await check(fw, PORT, 'check'), []);
    await fw.host.run(['firewall-cmd', '--zone=public', `--remove-port=${PORT}/tcp`]);
  } finally {
    await listener.kill('SIGKILL');
    await fw.stop();
  }
});

test.serial('firewalld with migration.firewall: open: set-up opens the port for the run (ledger), teardown closes it', async (t) => {
  const fw = await startFirewall({ firewalld: true });
  const listener = await listen(fw, PORT);
  try {
    t.deepEqual(await check(fw, PORT, 'open'), [], 'preflight leaves it to set-up');
    const step = firewallStep({ address: fw.address, port: PORT, firewall: 'open' });
    const ledger = new ProvisionLedger();
    const [outcome] = await applySteps(fw.host, [step], ledger);
    t.is(outcome.action, 'applied');
    t.is(outcome.before, `zone public does not list ${PORT}/tcp`);
    t.deepEqual(
      ledger.entries.map((e) => [e.step, e.previousState]),
      [[`firewall:${fw.address}:${PORT}`, 'firewalld public']],
    );
    t.true(await reachable(fw, PORT), 'open during the run');
    t.is(
      (await fw.host.run(['firewall-cmd', '--permanent', '--zone=public', `--query-port=${PORT}/tcp`], { allowFailure: true })).stdout.trim(),
      'no',
      'runtime only: nothing permanent',
    );
    t.deepEqual(await undoSteps(fw.host, [step], ledger), []);
    t.false(await reachable(fw, PORT), 'closed again after teardown');
    // a second set-up finds it closed again and a port already open is left alone
    await fw.host.run(['firewall-cmd', '--zone=public', `--add-port=${PORT}/tcp`]);
    const again = new ProvisionLedger();
    t.is((await applySteps(fw.host, [step], again))[0].action, 'already-in-place');
    t.deepEqual(again.entries, [], 'the lab opened it: the run does not close it');
  } finally {
    await listener.kill('SIGKILL');
    await fw.stop();
  }
});

/** The system's nft (under npx, PATH starts with node_modules/.bin, whose "nft" is @vercel/nft). */
const NFT = '/usr/sbin/nft';

async function nftDropPolicy(host: LocalTransport): Promise<void> {
  await host.run([NFT, 'add', 'table', 'inet', 'filter']);
  await host.run([NFT, 'add chain inet filter input { type filter hook input priority 0 ; policy drop ; }']);
  await host.run([NFT, 'add', 'rule', 'inet', 'filter', 'input', 'ct', 'state', 'established,related', 'accept']);
  await host.run([NFT, 'add', 'rule', 'inet', 'filter', 'input', 'tcp', 'dport', '22', 'accept']);
}

test.serial('nftables alone (input policy drop): blocked, the exact nft command, and open/close through the ledger by the rule comment', async (t) => {
  const fw = await startFirewall({ firewalld: false });
  const listener = await listen(fw, PORT);
  try {
    await nftDropPolicy(fw.host);
    t.false(await reachable(fw, PORT));
    const [problem] = await check(fw, PORT, 'check');
    t.regex(
      problem,
      new RegExp(
        `by nftables: chain inet filter input drops by policy and accepts no tcp dport ${PORT}\\. Open it for the run: nft insert rule inet filter input tcp dport ${PORT} accept comment '"vdpa-bench migration port"'`,
      ),
    );
    t.deepEqual(await check(fw, 22, 'check'), [], 'a port the ruleset accepts passes');
    const step = firewallStep({ address: fw.address, port: PORT, firewall: 'open' });
    const ledger = new ProvisionLedger();
    t.is((await applySteps(fw.host, [step], ledger))[0].action, 'applied');
    t.true(await reachable(fw, PORT));
    t.deepEqual(await undoSteps(fw.host, [step], ledger), []);
    t.false(await reachable(fw, PORT));
    t.notRegex((await fw.host.run([NFT, 'list', 'ruleset'])).stdout, /vdpa-bench/, 'only the harness rule went, the lab’s stay');
    t.regex((await fw.host.run([NFT, 'list', 'ruleset'])).stdout, /tcp dport 22 accept/);
  } finally {
    await listener.kill('SIGKILL');
    await fw.stop();
  }
});

avaTest('parsing: no firewall, loopback, an ACCEPT zone, a port range, unreadable nft output', (t) => {
  t.deepEqual(firewallState('none - eth0\n', PORT), { kind: 'none' });
  t.deepEqual(firewallState('firewalld public lo\npublic\n  target: default\n', PORT), { kind: 'none' });
  t.true((firewallState('firewalld trusted eth1\ntrusted (active)\n  target: ACCEPT\n  ports: \n', PORT) as { open: boolean }).open);
  t.true((firewallState('firewalld public eth1\npublic (active)\n  target: default\n  ports: 49000-49999/tcp 22/udp\n', PORT) as { open: boolean }).open);
  t.false((firewallState('firewalld public eth1\npublic (active)\n  target: default\n  ports: 49152/udp\n', PORT) as { open: boolean }).open);
  t.regex((firewallState('nftables - eth1\nnot json', PORT) as { why: string }).why, /cannot tell/);
});
