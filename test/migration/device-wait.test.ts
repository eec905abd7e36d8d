/**
 * Before every migration of an OS guest on vDPA the engine waits for the guest driver's DRIVER_OK
 * (read from the source's real trace file, as QEMU's log backend writes it) and records the wait;
 * an OS guest is never reset to re-arm it; a device that never comes up makes the migration invalid.
 */
import test from 'ava';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { deviceStartedHook } from '../../harness/migration/device-started.ts';
import type { TracedRecord } from '../../harness/migration/interfaces.ts';
import { OS_DEVICE_WAIT } from '../../harness/migration/lab-hooks.ts';
import type { RunningQemu } from '../../harness/qemu/running.ts';

function source(traceFile: string, qmp: string[]): RunningQemu {
  return { host: new LocalTransport('here'), currentTraceFile: traceFile, qmp: { execute: async (c: string) => void qmp.push(c) } } as unknown as RunningQemu;
}

const line = (s: number, args: string) => `6454@${s}.000000:vhost_vdpa_add_status ${args}\n`;

test('waits until the driver sets DRIVER_OK, records how long, never resets an OS guest', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vb-devwait-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const trace = join(dir, 'src.log');
  await writeFile(trace, line(1796661800, 'dev: 0x55d0 status: 0x1'));
  const qmp: string[] = [];
  const hook = deviceStartedHook({ ...OS_DEVICE_WAIT, pollMs: 50 });
  const ctx = { planned: { seq: 1 }, source: source(trace, qmp) } as never;
  // the OS is still booting: ACK only; its driver loads 600 ms later
  setTimeout(() => void appendFile(trace, line(1796661801, 'dev: 0x55d0 status: 0x4')), 600);
  await hook.beforeMigration!(ctx);
  const out = await hook.afterMigration!({ ...(ctx as object), record: { status: 'ok' } as TracedRecord } as never);
  const device = out!.parts!.guestDevice!.source!;
  t.true(device.driverOk);
  t.true(device.waitedMs >= 550, `waited ${device.waitedMs} ms`);
  t.is(device.rearms, 0);
  t.deepEqual(qmp, [], 'no system_reset');
  t.is(out!.invalid, undefined);
});

test('a device that never comes up: invalid, with the device state and the wait', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vb-devwait-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const trace = join(dir, 'src.log');
  await writeFile(trace, line(1796661800, 'dev: 0x55d0 status: 0x3'));
  const qmp: string[] = [];
  const hook = deviceStartedHook({ ...OS_DEVICE_WAIT, timeoutMs: 300, pollMs: 50 });
  const ctx = { planned: { seq: 2 }, source: source(trace, qmp) } as never;
  await hook.beforeMigration!(ctx);
  const out = await hook.afterMigration!({ ...(ctx as object), record: { status: 'ok' } as TracedRecord } as never);
  t.regex(out!.invalid ?? '', /^guest device not started before migration \(no DRIVER_OK on the source after 0\.\d s and 0 re-arm\(s\)/);
  t.deepEqual(qmp, []);
});

test('an OS driver that reset its device (a reboot, a driver reload) is waited for, not re-armed with system_reset', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vb-devwait-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const trace = join(dir, 'src.log');
  await writeFile(trace, line(1796661800, 'dev: 0x55d0 status: 0x4') + `6454@1796661801.000000:vhost_vdpa_reset_device dev: 0x55d0\n`);
  const qmp: string[] = [];
  const hook = deviceStartedHook({ ...OS_DEVICE_WAIT, timeoutMs: 400, pollMs: 50 });
  const ctx = { planned: { seq: 3 }, source: source(trace, qmp) } as never;
  setTimeout(() => void appendFile(trace, line(1796661802, 'dev: 0x55d0 status: 0xf')), 200);
  await hook.beforeMigration!(ctx);
  const out = await hook.afterMigration!({ ...(ctx as object), record: { status: 'ok' } as TracedRecord } as never);
  t.deepEqual(qmp, [], 'a firmware guest would have been reset here');
  t.true(out!.parts!.guestDevice!.source!.driverOk);
});
