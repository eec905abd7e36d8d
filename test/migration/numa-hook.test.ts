/**
 * NUMA placement on a real QEMU (TCG) on this machine: started with the guest RAM bound to node 0
 * (host-nodes=0,policy=bind on its memory backend), its vCPU threads found through QMP
 * query-cpus-fast and pinned with taskset, its emulator thread (the pid) too; the hook reads back
 * what the kernel has (/proc/PID/numa_maps, /proc/PID/task/TID/status) into extra.numa. A
 * placement the kernel does not have is an invalid migration naming it. (This machine has one
 * node: two nodes need a lab VM with -numa.)
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTransport } from '../../harness/hosts/local.ts';
import type { MigrationContext, TracedRecord } from '../../harness/migration/interfaces.ts';
import { numaHook, numaMapsPolicies, parseCpusAllowed, placeQemu, placementProblems } from '../../harness/migration/numa-hook.ts';
import { parseProfile } from '../../harness/profile/load.ts';
import type { HostNuma } from '../../harness/profile/numa.ts';
import { qemuArgs } from '../../harness/qemu/command.ts';
import { QemuInstance } from '../../harness/qemu/instance.ts';
import type { RunningQemu } from '../../harness/qemu/running.ts';
import { requires } from '../helpers/requires.ts';

const host = new LocalTransport('here');

test('Cpus_allowed_list and numa_maps policies as the kernel writes them', (t) => {
  t.is(parseCpusAllowed('Name:\tqemu\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1,3\nMems_allowed:\t1\n'), '0-1,3');
  t.is(parseCpusAllowed('Name:\tx\n'), null);
  const maps = [
    '55d0c0a00000 default file=/usr/bin/qemu-system-x86_64 mapped=300 N0=300 kernelpagesize_kB=4',
    '7f0e40000000 bind:0 anon=2048 dirty=2048 N0=2048 kernelpagesize_kB=4',
    '7f0e80000000 interleave:0-1 file=/dev/hugepages/qemu_back_mem.mem0 huge',
    '7ffd1a5e0000 default stack anon=5 dirty=5 N0=5 kernelpagesize_kB=4',
    '',
  ].join('\n');
  t.deepEqual(numaMapsPolicies(maps), ['bind:0', 'interleave:0-1']);
});

test('a placement read back as asked has no problems; one the kernel lacks is said, side, thread and what it found', (t) => {
  const good = {
    pid: 10,
    memory: { wanted: 'bind:0', qemu: { hostNodes: [0], policy: 'bind' }, kernel: ['bind:0'] },
    emulator: { tid: 10, wanted: '1', allowed: '1' },
    vcpus: [{ index: 0, tid: 11, wanted: '0-1', allowed: '0,1' }],
  };
  t.deepEqual(placementProblems('source', good), []);
  const bad = {
    ...good,
    memory: { ...good.memory, kernel: [] },
    vcpus: [{ index: 0, tid: 11, wanted: '1', allowed: '0-1', unknown: 'taskset 1 11 failed: no' }],
  };
  t.deepEqual(placementProblems('destination', bad), [
    "the destination QEMU's guest RAM is not bind:0 in /proc/10/numa_maps (found only default)",
    "the destination QEMU's vCPU 0 (TID 11) may run on 0-1, not 1 (taskset 1 11 failed: no)",
  ]);
});

async function startQemu(dir: string, numa: HostNuma | undefined): Promise<RunningQemu> {
  const profile = parseProfile('name: t\nhosts: [{name: a}]\nvariants: [{name: v}]\nvm: {cpus: 2}\nmatrix: {vmSizes: [64M]}\n');
  const files = { qmpSocket: join(dir, 'q.sock'), traceFile: join(dir, 't.log'), consoleFile: join(dir, 'c.log'), stderrFile: join(dir, 'e.log') };
  const launch = numaHook(new Map(numa ? [['a', numa]] : [])).launch!({ host: { name: 'a' } } as never) as { memoryNuma?: HostNuma['memory'] };
  const argv = qemuArgs({
    binary: 'qemu-system-x86_64',
    variant: profile.variants[0],
    vm: { ...profile.vm, memory: { backend: 'ram', prealloc: true } },
    vmSize: '64M',
    queuePairs: null,
    accel: 'tcg',
    name: 'vdpa-bench-numa-test',
    ...files,
    traceEvents: [],
    defaultMemoryDir: dir,
    incoming: false,
    ...launch,
  });
  return QemuInstance.launch(host, { argv, files, label: 'numa test', timeoutMs: 30_000 });
}

requires('qemu')(
  "a real QEMU bound to node 0, vCPUs and emulator pinned: numa_maps, query-memdev and each thread's Cpus_allowed_list as asked; unpinnable and unbound are invalid",
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'vb-numa-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const cpus = (await host.run(['cat', '/sys/devices/system/cpu/online'])).stdout.trim();
    const last = cpus.split(/[-,]/).pop()!;
    const numa: HostNuma = { memory: { hostNodes: [0], policy: 'bind' }, vcpus: [last, '0'], emulator: last };
    const qemu = await startQemu(dir, numa);
    t.teardown(() => qemu.kill());
    const argv = (await host.run(['cat', `/proc/${qemu.process.pid}/cmdline`])).stdout.split('\0');
    t.true(argv.includes('memory-backend-ram,id=mem0,size=64M,prealloc=on,host-nodes=0,policy=bind'), argv.join(' '));

    const hook = numaHook(new Map([['a', numa]]));
    const ctx = { planned: { seq: 1 }, from: { name: 'a' }, to: { name: 'a' }, source: qemu, destination: qemu } as unknown as MigrationContext & {
      source: RunningQemu;
      destination: RunningQemu;
    };
    await hook.beforeMigration!(ctx);
    const contribution = await hook.afterMigration!({ ...ctx, record: {} as TracedRecord });
    t.is(contribution!.invalid, undefined, contribution!.invalid);
    const placed = contribution!.parts!.numa!.source!;
    t.is(placed.pid, qemu.process.pid);
    t.deepEqual(placed.memory!.qemu, { hostNodes: [0], policy: 'bind' }, 'query-memdev');
    t.true(placed.memory!.kernel.includes('bind:0'), `numa_maps: ${placed.memory!.kernel.join(', ')}`);
    t.deepEqual(placed.emulator, { tid: qemu.process.pid, wanted: last, allowed: last });
    t.deepEqual(
      placed.vcpus!.map((v) => [v.index, v.wanted, v.allowed]),
      [
        [0, last, last],
        [1, '0', '0'],
      ],
    );
    for (const v of placed.vcpus!) {
      t.not(v.tid, qemu.process.pid, 'a vCPU thread is not the main thread');
      const status = (await host.run(['cat', `/proc/${qemu.process.pid}/task/${v.tid}/status`])).stdout;
      t.is(parseCpusAllowed(status), v.allowed);
    }
    t.deepEqual(contribution!.parts!.numa!.destination, placed, 'both sides placed (one QEMU plays both here)');

    // a CPU taskset refuses: the thread keeps its CPUs, said with taskset's words
    const refused = await placeQemu(qemu, { vcpus: '4095' });
    t.regex(placementProblems('source', refused)[0], /^the source QEMU's vCPU 0 \(TID \d+\) may run on [\d,-]+, not 4095 \(taskset 4095 \d+ failed: .+\)$/);
    await qemu.kill();

    // QEMU started without the binding while the profile asks for it: numa_maps shows it is not there
    const unbound = await startQemu(dir, undefined);
    t.teardown(() => unbound.kill());
    const found = await placeQemu(unbound, { memory: { hostNodes: [0], policy: 'bind' } });
    t.deepEqual(found.memory!.qemu, { hostNodes: [], policy: 'default' });
    t.regex(placementProblems('destination', found)[0], /^the destination QEMU's guest RAM is not bind:0 in \/proc\/\d+\/numa_maps \(found only default\)$/);
  },
);
