import test from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { LocalTransport } from '../../harness/hosts/local.ts';
import type { HostTransport, RunOptions, RunResult } from '../../harness/hosts/transport.ts';
import { applySteps, ProvisionLedger, undoSteps } from '../../harness/provision/apply.ts';
import { parseVdpaHostFacts } from '../../harness/provision/facts.ts';
import { beforeSetupChecks, qemuChecks, runChecks } from '../../harness/provision/preflight.ts';
import { hugepageStep, parseVdpaConfig, vfStep } from '../../harness/provision/steps.ts';
import { requires } from '../helpers/requires.ts';

const local = new LocalTransport('here');
const QEMU = 'qemu-system-x86_64';

requires('qemu')('QEMU checks on the real Debian QEMU: events its trace help lists pass, a missing one is named', async (t) => {
  const ok = await runChecks(
    local,
    qemuChecks(QEMU, [
      { purpose: 'the vdpa metric start', anyOf: ['vhost_vdpa_suspend', 'vhost_vdpa_reset_device'] },
      { purpose: 'the runstate metric', anyOf: ['runstate_set'] },
    ]),
  );
  t.deepEqual(ok, []);
  const missing = await runChecks(local, qemuChecks(QEMU, [{ purpose: 'the phases', anyOf: ['vhost_vdpa_no_such_event'] }]));
  t.deepEqual(missing, [`here: ${QEMU} has no trace event vhost_vdpa_no_such_event (needed for the phases)`]);
  const absent = await runChecks(local, qemuChecks('/nonexistent/qemu-system-x86_64', []));
  t.is(absent.length, 3);
  t.regex(absent[0], /^here: QEMU binary \/nonexistent\/qemu-system-x86_64 does not run/);
});

test('preflight passes hostile profile values to the host as data, never as shell text', async (t) => {
  const marker = `/tmp/vdpa-bench-pwned-${randomBytes(4).toString('hex')}`;
  const pf = `0000:3b:00.0; touch ${marker} $(touch ${marker}) \`touch ${marker}\` 'q' "dq"\nnext`;
  const problems = await runChecks(
    local,
    beforeSetupChecks({
      config: { driver: 'mlx5_vdpa', pf, managementDevice: 'pci/x', devices: [{ name: 'vdpa0', mac: '52:54:00:00:00:01' }] },
      largestGuestBytes: 2 ** 30,
    }),
  );
  t.true(problems.includes(`here: PCI device ${pf} (the profile's pf) does not exist on this host`), problems.join('\n'));
  t.false(existsSync(marker));
});

/**
 * A ConnectX PF's sysfs cannot exist here: this host keeps the files the steps read and write
 * (`cat`, `tee`) in memory, so the ledger logic runs against real step definitions.
 */
class SysfsHost implements HostTransport {
  readonly kind = 'local' as const;
  readonly writes: string[] = [];
  constructor(
    readonly hostName: string,
    readonly files: Map<string, string>,
  ) {}
  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const [cmd, path] = argv;
    if (cmd === 'cat' && this.files.has(path)) return { exitCode: 0, stdout: this.files.get(path)!, stderr: '' };
    if (cmd === 'tee' && this.files.has(path)) {
      this.files.set(path, String(options.input));
      this.writes.push(`${path}=${String(options.input).trim()}`);
      return { exitCode: 0, stdout: String(options.input), stderr: '' };
    }
    throw new Error(`unexpected command ${argv.join(' ')}`);
  }
  script(): Promise<RunResult> {
    throw new Error('no scripts here');
  }
  start(): never {
    throw new Error('no');
  }
  readFile(): never {
    throw new Error('no');
  }
  fetchFile(): never {
    throw new Error('no');
  }
  connectUnixSocket(): never {
    throw new Error('no');
  }
  describe(argv: readonly string[]) {
    return argv.join(' ');
  }
  async close() {}
}

test('set-up applies only what is missing, records what it found, and teardown restores only that', async (t) => {
  const vfs = '/sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs';
  const huge = '/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages';
  const host = new SysfsHost(
    'lab-a',
    new Map([
      [vfs, '2\n'],
      [huge, '200\n'],
    ]),
  );
  const steps = [hugepageStep('1G', 132), vfStep('0000:3b:00.0', 1)];
  const ledger = new ProvisionLedger();
  const outcomes = await applySteps(host, steps, ledger);
  t.deepEqual(
    outcomes.map((o) => o.action),
    ['already-in-place', 'applied'],
  );
  // a non-zero VF count changes through 0
  t.deepEqual(host.writes, [`${vfs}=0`, `${vfs}=1`]);
  t.deepEqual(
    ledger.entries.map((e) => [e.step, e.previousState]),
    [['sriov:0000:3b:00.0', '2']],
  );
  // idempotent: a second set-up changes nothing
  const again = await applySteps(host, steps, new ProvisionLedger());
  t.deepEqual(
    again.map((o) => o.action),
    ['already-in-place', 'already-in-place'],
  );
  host.writes.length = 0;
  t.deepEqual(await undoSteps(host, steps, ledger), []);
  t.deepEqual(host.writes, [`${vfs}=0`, `${vfs}=2`]);
  t.is(host.files.get(huge), '200\n');
});

test('a step still not in place after apply is an error naming host and step', async (t) => {
  const huge = '/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages';
  const host = new SysfsHost('lab-b', new Map([[huge, '0\n']]));
  // the kernel could only find 40 free 1G pages
  host.run = (async (argv: readonly string[], options: RunOptions = {}) => {
    if (argv[0] === 'tee') {
      host.files.set(huge, '40\n');
      return { exitCode: 0, stdout: String(options.input), stderr: '' };
    }
    return { exitCode: 0, stdout: host.files.get(huge)!, stderr: '' };
  }) as SysfsHost['run'];
  const ledger = new ProvisionLedger();
  await t.throwsAsync(applySteps(host, [hugepageStep('1G', 132)], ledger), {
    message: 'lab-b: 132 hugepages of 1G: still not in place after set-up (40 reserved)',
  });
  t.is(ledger.entries.length, 1, 'a half-applied step is still recorded for teardown');
});

test('host facts: ethtool, devlink, vdpa config, IOMMU and hugepages sections', (t) => {
  const text = [
    '### cmdline',
    'BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on iommu=pt hugepagesz=1G hugepages=132',
    '### hugepages',
    'HugePages_Total:     132',
    'Hugepagesize:       1048576 kB',
    '### iommu',
    'dmar0 dmar1',
    '### iommuGroupType',
    'identity',
    '### nicModel',
    '3b:00.0 Ethernet controller: Mellanox Technologies MT2892 Family [ConnectX-6 Dx]',
    '### ethtool',
    'driver: mlx5_core',
    'version: 6.12.0',
    'firmware-version: 22.39.1002 (MT_0000000359)',
    'bus-info: 0000:3b:00.0',
    '### devlinkInfo',
    'pci/0000:3b:00.0:',
    '  driver mlx5_core',
    '### vdpaConfig vdpa0',
    '{"config":{"vdpa0":{"mac":"52:54:00:6d:78:01","link":"up","link_announce":false,"max_vq_pairs":8,"mtu":1500}}}',
    '### vdpaConfig vdpa1',
    'kernel answers: No such device',
  ].join('\n');
  const facts = parseVdpaHostFacts(text, ['vdpa0', 'vdpa1']);
  t.deepEqual(facts.iommu, { units: ['dmar0', 'dmar1'], groupType: 'identity', cmdline: ['intel_iommu=on', 'iommu=pt'] });
  t.is(facts.hugepages.HugePages_Total, '132');
  t.like(facts.nic, {
    model: '3b:00.0 Ethernet controller: Mellanox Technologies MT2892 Family [ConnectX-6 Dx]',
    driver: 'mlx5_core',
    firmware: '22.39.1002 (MT_0000000359)',
  });
  t.like(facts.devices.vdpa0, { maxVqPairs: 8, mac: '52:54:00:6d:78:01' });
  t.deepEqual(facts.devices.vdpa1, { error: 'kernel answers: No such device' });
  t.deepEqual(parseVdpaConfig('not json', 'vdpa0'), {});
});

test('with the stap backend the checks are the SDT probes, the tracer and the right to trace, each naming its fix', (t) => {
  const checks = qemuChecks(QEMU, [{ purpose: 'the vdpa metric start', anyOf: ['vhost_vdpa_suspend'] }], 'stap');
  t.deepEqual(
    checks.map((c) => c.name),
    [`QEMU ${QEMU}`, `trace events of ${QEMU}`, `SDT probes of ${QEMU}`, 'systemtap runs', 'user may trace with systemtap'],
  );
  const [, , sdt, runs, may] = checks;
  const ok = (stdout: string) => ({ exitCode: 0, stdout, stderr: '' });
  t.regex(sdt.evaluate(ok('end\n'))!, /has no SDT probes \(readelf -n finds no stapsdt notes\): it is not a dtrace build; set trace.backend: log/);
  t.is(sdt.evaluate(ok('qemu:vhost_vdpa_suspend\nqemu:qmp_enter_query_name\nend\n')), null);
  t.regex(sdt.evaluate(ok('qemu:vhost_vdpa_suspend\nend\n'))!, /no SDT probe qemu:qmp_enter_query_name \(needed for proving the tracer attached/);
  t.is(
    sdt.evaluate(ok('qemu:runstate_set\nqemu:qmp_enter_query_name\nend\n')),
    `${QEMU} has no SDT probe qemu:vhost_vdpa_suspend (needed for the vdpa metric start)`,
  );
  t.regex(runs.evaluate(ok('missing qemu-trace-stap\n'))!, /package qemu-kvm-tools; on Debian use trace.tracer: bpftrace/);
  t.regex(runs.evaluate(ok('no-headers 6.12.57\n'))!, /kernel-devel-6.12.57.*linux-headers-6.12.57/);
  t.is(runs.evaluate(ok('Systemtap translator/driver (version 5.2/0.192, rpm 5.2-1.el10)\n')), null);
  t.is(may.evaluate(ok('uid 0\ngroups root\n')), null);
  t.is(may.evaluate(ok('uid 1000\ngroups lab stapdev\n')), null);
  t.regex(may.evaluate(ok('uid 1000\ngroups lab\n'))!, /user 1000 may not run SystemTap: run the harness as root on that host, or add the user to stapdev/);
  const bpf = qemuChecks(QEMU, [], 'stap', { tracer: { kind: 'bpftrace' } });
  t.regex(bpf[3].evaluate(ok('missing bpftrace\n'))!, /package bpftrace/);
  t.regex(bpf[3].evaluate(ok('bpf-fails ERROR: Could not resolve symbol\n'))!, /bpftrace cannot run a BPF program here: ERROR: Could not resolve symbol/);
  t.regex(bpf[4].evaluate(ok('uid 1000\ngroups lab stapdev\n'))!, /may not run bpftrace: it needs root/);
});

test('the log backend on a QEMU whose -trace writes nothing says it has only the dtrace backend and names the fix', (t) => {
  const log = qemuChecks(QEMU, [], 'log');
  t.regex(log[2].evaluate({ exitCode: 0, stdout: '', stderr: '' })!, /this QEMU has only the dtrace backend: set trace.backend: stap/);
});

requires('qemu')("trace.backend stap on Debian's QEMU (no SDT notes) fails preflight naming trace.backend: log", async (t) => {
  const problems = await runChecks(local, qemuChecks(QEMU, [{ purpose: 'the runstate metric', anyOf: ['runstate_set'] }], 'stap'));
  t.true(
    problems.some((p) => /has no SDT probes \(readelf -n finds no stapsdt notes\): it is not a dtrace build; set trace.backend: log/.test(p)),
    problems.join('\n'),
  );
});
