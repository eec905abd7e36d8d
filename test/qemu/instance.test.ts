import test from 'ava';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { parseProfile } from '../../harness/profile/load.ts';
import { qemuArgs } from '../../harness/qemu/command.ts';
import { hmpQuote, QemuInstance } from '../../harness/qemu/instance.ts';
import { QmpError } from '../../harness/qemu/qmp.ts';
import { requires } from '../helpers/requires.ts';

test('hmpQuote escapes what HMP would otherwise split or end on', (t) => {
  t.is(hmpQuote('/a b/c'), '"/a b/c"');
  t.is(hmpQuote('x"y\\z\nw'), '"x\\"y\\\\z\\nw"');
});

requires('qemu')('a real QEMU: QMP greets, errors are typed, the trace file rotates to a hostile path', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vb qemu "x" '));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const profile = parseProfile('name: t\nhosts: [{name: a}]\nvariants: [{name: v}]\nmatrix: {vmSizes: [128M]}\n');
  const files = {
    qmpSocket: join(dir, 'q.sock'),
    traceFile: join(dir, 'first.log'),
    consoleFile: join(dir, 'console.log'),
    stderrFile: join(dir, 'stderr.log'),
  };
  const argv = qemuArgs({
    binary: 'qemu-system-x86_64',
    variant: profile.variants[0],
    vm: profile.vm,
    vmSize: '128M',
    queuePairs: null,
    accel: 'tcg',
    name: 'vdpa-bench-instance-test',
    ...files,
    traceEvents: ['runstate_set'],
    defaultMemoryDir: dir,
    incoming: false,
  });
  const host = new LocalTransport('local');
  const qemu = await QemuInstance.launch(host, { argv, files, label: 'instance test', timeoutMs: 30_000 });
  t.teardown(() => qemu.kill());
  t.regex(qemu.qmp.greeting!.version.package, /./);
  t.is(await qemu.status(), 'running');
  const error = await t.throwsAsync(qemu.qmp.execute('no-such-command'), { instanceOf: QmpError });
  t.is(error!.errorClass, 'CommandNotFound');
  const rotated = join(dir, 'second file "quoted".log');
  await qemu.rotateTrace(rotated);
  await qemu.qmp.execute('stop');
  await qemu.stop();
  await access(rotated);
  t.regex(await readFile(rotated, 'utf8'), /runstate_set current_run_state 9 \(running\) new_state 4 \(paused\)/);
  t.notRegex(await readFile(files.traceFile, 'utf8'), /new_state 4 \(paused\)/);
});
