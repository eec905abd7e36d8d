/**
 * The memlock read-back: real processes started as the launch starts QEMU (under prlimit), their
 * /proc/PID/limits read through the transport into extra.memlock; a process whose limit is below
 * what its guest pins makes the migration invalid; one that cannot be read is unknown.
 */
import test from 'ava';
import { LocalTransport } from '../../harness/hosts/local.ts';
import type { HostProcess } from '../../harness/hosts/transport.ts';
import { memlockHook, parseLockedMemory } from '../../harness/migration/memlock-hook.ts';
import type { MigrationContext } from '../../harness/migration/interfaces.ts';
import { withMemlock } from '../../harness/profile/memlock.ts';
import type { RunningQemu } from '../../harness/qemu/running.ts';
import type { TracedRecord } from '../../harness/migration/interfaces.ts';

const host = new LocalTransport('here');
const vdpaVm = { nic: { kind: 'vdpa' as const, shadowVirtqueue: false } };
const GIB = 2 ** 30;

test('parses the kernel\'s "Max locked memory" line, numbers and unlimited', (t) => {
  const limits =
    'Limit                     Soft Limit           Hard Limit           Units     \nMax locked memory         8388608              unlimited            bytes     \n';
  t.deepEqual(parseLockedMemory(limits), { softBytes: 8388608, hardBytes: 'unlimited' });
  t.is(parseLockedMemory('Max open files 1024 4096 files\n'), null);
});

async function started(bytes: number): Promise<HostProcess> {
  // within the hard limit, so any user (and this container's root) may set it
  return host.start(withMemlock(['sleep', '30'], bytes));
}

function qemu(process: HostProcess): RunningQemu {
  return { host, process } as unknown as RunningQemu;
}

function context(vmSize: string): MigrationContext & { source: RunningQemu; destination: RunningQemu } {
  return { planned: { seq: 3, cell: { variant: 'v', vmSize, queuePairs: 1 } } } as never;
}

test("each QEMU's limit as the kernel has it lands in extra.memlock; a limit below the guest's need makes the migration invalid, naming each side", async (t) => {
  // within this machine's hard limit (a container's root may not raise it): both below a 1G guest's 2 GiB
  const source = await started(8 * 2 ** 20);
  const destination = await started(4 * 2 ** 20);
  try {
    const hook = memlockHook(vdpaVm);
    const ctx = { ...context('1G'), source: qemu(source), destination: qemu(destination) };
    await hook.beforeMigration!(ctx);
    const contribution = await hook.afterMigration!({ ...ctx, record: {} as TracedRecord });
    t.deepEqual(contribution!.parts!.memlock, {
      requiredBytes: 2 * GIB,
      source: { pid: source.pid, softBytes: 8 * 2 ** 20, hardBytes: 8 * 2 ** 20 },
      destination: { pid: destination.pid, softBytes: 4 * 2 ** 20, hardBytes: 4 * 2 ** 20 },
    });
    t.is(
      contribution!.invalid,
      `the source QEMU's locked-memory limit is ${8 * 2 ** 20} bytes, the destination QEMU's locked-memory limit is ${4 * 2 ** 20} bytes, below the ${2 * GIB} its guest pins`,
    );
    // the part is given once, for its own migration
    t.is(await hook.afterMigration!({ ...ctx, record: {} as TracedRecord }), undefined);
  } finally {
    await source.kill('SIGKILL');
    await destination.kill('SIGKILL');
  }
});

test('a limit that cannot be read is unknown, never enough, and does not invalidate', async (t) => {
  const gone = await started(2 ** 20);
  await gone.kill('SIGKILL');
  await gone.exited;
  const hook = memlockHook(vdpaVm);
  const ctx = { ...context('1G'), source: qemu(gone), destination: qemu(gone) };
  await hook.beforeMigration!(ctx);
  const contribution = await hook.afterMigration!({ ...ctx, record: {} as TracedRecord });
  t.regex((contribution!.parts!.memlock!.source as { unknown: string }).unknown, /no such file|ENOENT/i);
  t.is(contribution!.invalid, undefined);
});

test('a VM that does not pin gets no memlock part', async (t) => {
  const hook = memlockHook({ nic: { kind: 'none' } });
  const ctx = { ...context('1G'), source: qemu({ pid: 1 } as HostProcess), destination: qemu({ pid: 1 } as HostProcess) };
  t.is(ctx.planned.cell.queuePairs, 1);
  // queue pairs make a cell pin even without vm.nic vdpa: use a cell without them
  const noPin = { ...ctx, planned: { ...ctx.planned, cell: { ...ctx.planned.cell, queuePairs: null } } };
  await hook.beforeMigration!(noPin as never);
  t.is(await hook.afterMigration!({ ...noPin, record: {} as TracedRecord } as never), undefined);
});
