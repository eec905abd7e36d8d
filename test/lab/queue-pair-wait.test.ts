/**
 * The wait for the cell's queue pairs before migrate: a host whose device answers `vdpa -j dev
 * config show` as the kernel does (no driver yet, then one pair without MQ while the driver
 * probes, then MQ with 8 pairs); the wait ends when the count is the cell's, and a device that
 * never gets there makes the migration invalid with what it had.
 */
import test from 'ava';
import type { HostTransport, RunResult } from '../../harness/hosts/transport.ts';
import { queuePairWaitHook } from '../../harness/lab/queue-pair-wait.ts';
import type { VdpaHost } from '../../harness/lab/vdpa.ts';
import type { TracedRecord } from '../../harness/migration/interfaces.ts';

const FEATURES = ['CSUM', 'GUEST_CSUM', 'MTU', 'MAC', 'HOST_TSO4', 'MRG_RXBUF', 'STATUS', 'CTRL_VQ', 'CTRL_VLAN', 'VERSION_1', 'ACCESS_PLATFORM'];
const config = (features: string[] | null, pairs = 8) =>
  JSON.stringify({
    config: {
      vdpa0: {
        mac: '52:54:00:6d:78:01',
        link: 'up',
        link_announce: false,
        max_vq_pairs: pairs,
        mtu: 1500,
        ...(features ? { negotiated_features: features } : {}),
      },
    },
  });

function hostAnswering(answers: string[]): HostTransport & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    hostName: 'lab-a',
    kind: 'ssh',
    calls,
    run: async (argv: readonly string[]): Promise<RunResult> => {
      calls.push([...argv]);
      return { exitCode: 0, stdout: answers[Math.min(calls.length - 1, answers.length - 1)], stderr: '' };
    },
  } as unknown as HostTransport & { calls: string[][] };
}

const hosts = [{ name: 'lab-a', vdpa: { devices: [{ name: 'vdpa0', mac: '52:54:00:6d:78:01' }] } }] as unknown as VdpaHost[];
const ctx = (transport: HostTransport, queuePairs: number | null) =>
  ({ planned: { seq: 4, cell: { variant: 'v', vmSize: '39G', queuePairs } }, from: { name: 'lab-a', transport } }) as never;

test("waits while the driver brings its queues up, and records the wait once the device has the cell's 8 pairs", async (t) => {
  const host = hostAnswering([config(null), config(FEATURES), config([...FEATURES, 'MQ'])]);
  const hook = queuePairWaitHook({ hosts, sameHost: false, timeoutMs: 10_000, pollMs: 20 });
  await hook.beforeMigration!(ctx(host, 8));
  const out = await hook.afterMigration!({ ...(ctx(host, 8) as object), record: {} as TracedRecord } as never);
  t.deepEqual(host.calls[0], ['vdpa', '-j', 'dev', 'config', 'show', 'vdpa0']);
  t.is(host.calls.length, 3);
  const wait = out!.parts!.queuePairWait!;
  t.like(wait, { host: 'lab-a', device: 'vdpa0', wanted: 8, negotiated: 8, mq: true, reached: true });
  t.true(wait.waitedMs >= 30);
  t.is(out!.invalid, undefined);
});

test('a driver that never negotiates MQ: invalid after the timeout, saying what it had', async (t) => {
  const host = hostAnswering([config(FEATURES)]);
  const hook = queuePairWaitHook({ hosts, sameHost: false, timeoutMs: 100, pollMs: 20 });
  await hook.beforeMigration!(ctx(host, 8));
  const out = await hook.afterMigration!({ ...(ctx(host, 8) as object), record: {} as TracedRecord } as never);
  t.regex(out!.invalid ?? '', /^the source's vDPA device vdpa0 on lab-a had 1 queue pair negotiated \(no MQ\) after 0\.\d s, the cell asks for 8$/);
});

test('a single-pair cell does not wait', async (t) => {
  const host = hostAnswering([config(null)]);
  const hook = queuePairWaitHook({ hosts, sameHost: false, timeoutMs: 100, pollMs: 20 });
  await hook.beforeMigration!(ctx(host, 1));
  t.is(await hook.afterMigration!({ ...(ctx(host, 1) as object), record: {} as TracedRecord } as never), undefined);
  t.deepEqual(host.calls, []);
});
