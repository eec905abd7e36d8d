import test from 'ava';
import { readyGap } from '../../harness/metrics/ready-gap.ts';
import { notStartedReason } from '../../harness/migration/device-started.ts';
import { profileSchema } from '../../harness/profile/schema.ts';
import { qemuArgs, qemuInvocation } from '../../harness/qemu/command.ts';
import { parseTrace } from '../../harness/traces/parse.ts';
import { vhostDeviceState } from '../../harness/traces/vhost-device-state.ts';
import { mountsUnder } from '../../harness/softlab/chroot.ts';
import { softlabPaths } from '../../harness/softlab/paths.ts';
import { checkProblems, labVmArgs, parseChecks } from '../../harness/softlab/vm.ts';
import { labVmNumaArgs } from '../../harness/softlab/numa-topology.ts';

test('mountsUnder finds mounts at and below a root, deepest first, decoding octal escapes', (t) => {
  const mounts = [
    'proc /proc proc rw 0 0',
    'proc /cache/root/proc proc rw 0 0',
    '/dev/vda /cache/root/dev ext4 rw 0 0',
    'sysfs /cache/root\\040x/sys sysfs rw 0 0',
    'tmpfs /cache/rootfs-other tmpfs rw 0 0',
    'devpts /cache/root/dev/pts devpts rw 0 0',
  ].join('\n');
  t.deepEqual(mountsUnder(mounts, '/cache/root'), ['/cache/root/dev/pts', '/cache/root/proc', '/cache/root/dev']);
  t.deepEqual(mountsUnder(mounts, '/cache/root x'), ['/cache/root x/sys']);
});

test('the lab VM listens on loopback only, boots the built kernel and never writes the cached image', (t) => {
  const paths = softlabPaths('/c/soft,lab');
  const argv = labVmArgs(paths, { port: 10022, memory: '6G', cpus: 2, qemu: 'qemu-system-x86_64' }, '/c/qmp.sock');
  t.true(argv.includes('user,id=n0,hostfwd=tcp:127.0.0.1:10022-:22'));
  t.true(argv.includes('file=/c/soft,,lab/labvm.ext4,format=raw,if=virtio,snapshot=on'));
  t.is(argv[argv.indexOf('-kernel') + 1], '/c/soft,lab/vmlinuz');
  t.is(argv[argv.indexOf('-accel') + 1], 'tcg,thread=multi');
});

test('lab VM checks: every pitfall found by hand is reported', (t) => {
  const good = parseChecks(
    [
      'kernel=6.12.117+deb13-cloud-amd64',
      'loopback=up',
      'memlock=unlimited',
      'mgmtdev=vdpasim_net',
      ...['vhost_vdpa', 'vdpa_sim', 'vdpa_sim_net', 'vringh'].map((m) => `module=${m}`),
      'qemu_system=QEMU emulator version 10.0.13 (Debian 1:10.0.13+ds-0+deb13u1)',
      'qemu_sid=QEMU emulator version 11.1.3 (Debian 1:11.1.3+ds-1)',
    ].join('\n'),
  );
  t.deepEqual(checkProblems(good), []);
  const bad = parseChecks('kernel=6.12\nloopback=down\nmemlock=8192\nmodule=vhost_vdpa\nqemu_system=QEMU emulator version 7.2.15\n');
  const problems = checkProblems(bad).join('\n');
  t.regex(problems, /loopback is down/);
  t.regex(problems, /RLIMIT_MEMLOCK is 8192/);
  t.regex(problems, /vdpasim_net/);
  t.regex(problems, /module vringh is not loaded/);
  t.regex(problems, /not 10\.0\.x/);
  t.regex(problems, /sid QEMU .* not 11\.x: not found/);
});

const profile = profileSchema.parse({
  name: 'p',
  hosts: [
    {
      name: 'lab',
      vdpa: {
        driver: 'vdpa_sim_net',
        managementDevice: 'vdpasim_net',
        devices: [
          { name: 'vdpa0', mac: '52:54:00:12:34:56' },
          { name: 'vdpa1', mac: '52:54:00:12:34:57' },
        ],
      },
    },
  ],
  variants: [{ name: 'after', qemu: { binary: '/usr/bin/qemu-system-x86_64', chroot: '/srv/sid' } }],
  vm: { guest: { kind: 'pxe' }, nic: { kind: 'vdpa' } },
  matrix: { vmSizes: ['256M'] },
});

test('a variant with qemu.chroot runs QEMU in that root through the bind-mount wrapper, and the rest of the command line is unchanged', (t) => {
  const variant = profile.variants[0];
  const invocation = qemuInvocation(variant, '/usr/bin/qemu-system-x86_64');
  t.deepEqual(invocation.slice(0, 5), ['unshare', '--mount', '--propagation', 'private', '--']);
  t.deepEqual(invocation.slice(-9), ['/srv/sid', '/dev', '/sys', '/root', '/tmp', '/run', '/var/tmp', '--', '/usr/bin/qemu-system-x86_64']);
  const argv = qemuArgs({
    binary: '/usr/bin/qemu-system-x86_64',
    variant,
    vm: profile.vm,
    vmSize: '256M',
    queuePairs: 1,
    accel: 'tcg',
    name: 'n',
    qmpSocket: '/w/q.sock',
    traceFile: '/w/t.log',
    consoleFile: '/w/c.log',
    traceEvents: ['vhost_vdpa_*'],
    defaultMemoryDir: '/w',
    vhostVdpaDevice: '/dev/vhost-vdpa-1',
    incoming: true,
  });
  // the launch's own directory (/w) is bound in too, at the same path
  const name = argv.indexOf('-name');
  t.deepEqual(argv.slice(name - 4, name + 1), ['/w', '/var/tmp', '--', '/usr/bin/qemu-system-x86_64', '-name']);
  t.true(argv.includes('type=vhost-vdpa,vhostdev=/dev/vhost-vdpa-1,id=vdpa0'));
  t.deepEqual(argv.slice(argv.indexOf('-boot'), argv.indexOf('-boot') + 2), ['-boot', 'n']);
});

test('vhost device state replayed from a QEMU 10.0 trace: started by DRIVER_OK, stopped by a reset, carried across files', (t) => {
  const line = (t: number, event: string, args: string) => `755@${t.toFixed(6)}:${event} ${args}`;
  const boot = parseTrace(
    [
      line(1000, 'vhost_vdpa_reset_device', 'dev: 0x55b1d3dfdaf0'),
      line(1001, 'vhost_vdpa_add_status', 'dev: 0x55b1d3dfdaf0 status: 0x3'),
      line(1002, 'vhost_vdpa_add_status', 'dev: 0x55b1d3dfdaf0 status: 0x8'),
      line(1003, 'vhost_vdpa_add_status', 'dev: 0x55b1d3dfdaf0 status: 0x4'),
    ].join('\n'),
  ).events;
  const started = vhostDeviceState(boot);
  t.true(started.started);
  t.is(started.decidedBy?.line, 4);
  const gaveUp = vhostDeviceState(parseTrace(line(1040, 'vhost_vdpa_reset_device', 'dev: 0x1')).events, started);
  t.false(gaveUp.started);
  t.true(gaveUp.everStarted, 'a driver that let go is told apart from one that never came');
  t.false(vhostDeviceState(parseTrace(line(1, 'vhost_vdpa_add_status', 'dev: 0x1 status: 0x3')).events).started);
  t.true(vhostDeviceState([], started).started, 'an empty new file keeps the earlier state');
  t.false(vhostDeviceState([]).everStarted ?? false);
});

test('a migration whose source device was not started is invalid, with the reason', (t) => {
  t.is(notStartedReason({ driverOk: true, waitedMs: 10, rearms: 0 }), null);
  t.regex(
    notStartedReason({ driverOk: false, waitedMs: 180_000, rearms: 5, decidedBy: 'vhost_vdpa_reset_device dev: 0x1 (line 9)' })!,
    /not started before migration .*180\.0 s and 5 re-arm.*reset_device.*line 9/,
  );
  t.regex(notStartedReason(undefined)!, /unknown/);
  t.regex(
    notStartedReason({ driverOk: true, driverOkAtMigrationStart: false, waitedMs: 3, rearms: 0, decidedBy: 'vhost_vdpa_reset_device dev: 0x1 (line 41)' })!,
    /when the migration began.*line 41/,
  );
});

test('vdpa vs vdpa-ready: a gap beyond the tolerance is flagged, a missing metric gives no verdict', (t) => {
  t.false(readyGap({ vdpa: 100, 'vdpa-ready': 110 }, 25)!.flagged);
  const gap = readyGap({ vdpa: 112, 'vdpa-ready': 7_870 }, 25)!;
  t.true(gap.flagged);
  t.is(gap.gapMs, 7_758);
  t.false(readyGap({ vdpa: 0.2, 'vdpa-ready': 0.9 }, 25)!.flagged, 'sub-millisecond gaps are timestamp noise');
  t.is(readyGap({ vdpa: 100, 'vdpa-ready': null }, 25), null);
});

test('vrings: a guest that did not negotiate the control queue (iPXE) is complete with 2 per queue pair', async (t) => {
  const { countVrings } = await import('../../harness/metrics/phases.ts');
  // destination lines of a real soft-lab migration (QEMU 10.0.13, vdpa_sim_net, iPXE guest)
  const base = [
    '1224@1795666374.311300:vhost_vdpa_set_features dev: 0x55bc4f832af0 features: 0x300000000',
    '1224@1795666379.121508:vhost_vdpa_set_vring_enable_one dev: 0x55bc4f832af0, idx: 0, enable: 1, r: 0',
    '1224@1795666379.121568:vhost_vdpa_set_vring_enable_one dev: 0x55bc4f832af0, idx: 1, enable: 1, r: 0',
  ];
  t.true(countVrings(parseTrace(base.join('\n')).events, 1).ok);
  const withCvq = [base[0].replace('0x300000000', '0x300020000'), ...base.slice(1)];
  const r = countVrings(parseTrace(withCvq.join('\n')).events, 1);
  t.false(r.ok);
  t.regex(String((r as { problem?: string }).problem), /expected 3 .*missing idx 2/);
  t.is(countVrings(parseTrace(base.slice(1).join('\n')).events, 1).ok, false, 'features not traced: the control vring is still expected');
});

test('two-host lab: each VM has its own name, run directory, port and known_hosts; the link is a unix-socket stream netdev, hostA listening', async (t) => {
  const { pairInstance, PAIR_HOSTS } = await import('../../harness/softlab/pair.ts');
  const paths = softlabPaths('/c/lab');
  const [a, b] = PAIR_HOSTS.map((h) => pairInstance(paths, h));
  t.not(a.vmName, b.vmName);
  t.not(a.run, b.run);
  t.not(a.knownHosts, b.knownHosts);
  t.is(a.link!.socket, b.link!.socket);
  const argvA = labVmArgs(paths, { port: 10031, memory: '4G', cpus: 2, qemu: 'q' }, '/c/a.sock', a);
  const argvB = labVmArgs(paths, { port: 10032, memory: '4G', cpus: 2, qemu: 'q' }, '/c/b.sock', b);
  t.true(argvA.includes('stream,id=link,server=on,addr.type=unix,addr.path=/c/lab/run/hostA/link.sock'));
  t.true(argvB.includes('stream,id=link,server=off,addr.type=unix,addr.path=/c/lab/run/hostA/link.sock'));
  t.true(argvB.includes('virtio-net-pci,netdev=link,mac=52:54:00:0d:13:0b'));
  t.is(argvA[argvA.indexOf('-pidfile') + 1], '/c/lab/run/hostA/qemu.pid');
  t.true(argvB.includes('user,id=n0,hostfwd=tcp:127.0.0.1:10032-:22'));
  // one-VM mode keeps its own files and name
  const single = labVmArgs(paths, { port: 10022, memory: '6G', cpus: 2, qemu: 'q' }, '/c/qmp.sock');
  t.is(single[single.indexOf('-name') + 1], 'vdpa-bench-softlab');
  t.false(single.some((w) => w.includes('stream')));
});

test("a two-node lab VM: memory and vCPUs split evenly, each node its own RAM backend, as a two-socket host's kernel sees it", (t) => {
  t.deepEqual(labVmNumaArgs('6G', 2, 2), [
    '-object',
    'memory-backend-ram,id=labmem0,size=3072M',
    '-numa',
    'node,nodeid=0,cpus=0,memdev=labmem0',
    '-object',
    'memory-backend-ram,id=labmem1,size=3072M',
    '-numa',
    'node,nodeid=1,cpus=1,memdev=labmem1',
  ]);
  t.true(labVmNumaArgs('4G', 4, 2).includes('node,nodeid=1,cpus=2-3,memdev=labmem1'));
  t.deepEqual(labVmNumaArgs('6G', 2), [], 'one node: QEMU default');
  t.throws(() => labVmNumaArgs('6G', 1, 2), { message: /2 NUMA nodes need at least 2 vCPUs/ });
  const paths = softlabPaths('/c');
  const argv = labVmArgs(paths, { port: 10022, memory: '6G', cpus: 2, qemu: 'q', numaNodes: 2 }, '/c/qmp.sock');
  t.is(argv[argv.indexOf('-m') + 2], '-object', 'the nodes follow -m');
});
