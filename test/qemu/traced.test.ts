/**
 * A traced QEMU's capture cut into each migration's trace file, on a real host transport with a
 * real tracer process (a stand-in that only lives: the lines are the real tracers' formats, written
 * by the test as a tracer writes them): whole lines only, the tracer's chatter left out, its loss
 * messages and its death reported once for the part of the capture they belong to.
 */
import { appendFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { LocalTransport } from '../../harness/hosts/local.ts';
import type { RunningQemu } from '../../harness/qemu/running.ts';
import { TracedQemu } from '../../harness/qemu/traced.ts';

async function setUp(t: { teardown(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'vb-traced-'));
  await mkdir(join(dir, 'traces'));
  const host = new LocalTransport('here');
  const tracer = await host.start(['sleep', '60'], { role: 'tracer' });
  const files = { qmpSocket: join(dir, 'q.sock'), traceFile: join(dir, 'traces', '0001-src.log'), consoleFile: join(dir, 'c'), stderrFile: join(dir, 'e') };
  const stopped: string[] = [];
  const inner = {
    host,
    process: tracer,
    files,
    label: 'src of migration 1',
    currentTraceFile: files.traceFile,
    rotateTrace: (path: string) => Promise.resolve(void stopped.push(`logfile ${path}`)),
    stop: () => Promise.resolve(void stopped.push('stop')),
    kill: () => Promise.resolve(void stopped.push('kill')),
    stderrTail: () => Promise.resolve(''),
  } as unknown as RunningQemu;
  const request = {
    spec: { kind: 'bpftrace' as const, binary: '/q', events: [] },
    outputFile: join(dir, 'traces', 'a.tracer-out'),
    stderrFile: join(dir, 'a.tracer.log'),
    continueAfterAttach: true,
    attachTimeoutMs: 1000,
  };
  await appendFile(request.outputFile, '');
  await appendFile(request.stderrFile, '');
  const traced = new TracedQemu(inner, tracer, request);
  t.teardown(async () => {
    await tracer.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, traced, tracer, request, files, stopped };
}

test("each migration's trace file gets the tracer's whole lines since the last cut, without its chatter", async (t) => {
  const { dir, traced, request, files } = await setUp(t);
  await appendFile(
    request.outputFile,
    'Attaching 16 probes...\n7@1765120000000000001 qmp_enter_query_name {}\n7@1765120001000000000 vhost_vdpa_suspend dev: 0x1\n7@17651200',
  );
  t.deepEqual(await traced.settleTrace(), []);
  t.is(await readFile(files.traceFile, 'utf8'), '7@1765120000000000001 qmp_enter_query_name {}\n7@1765120001000000000 vhost_vdpa_suspend dev: 0x1\n');
  await appendFile(request.outputFile, '01100000000 runstate_set current_run_state 9 (running) new_state 7 (finish-migrate)\n');
  const next = join(dir, 'traces', '0002-src.log');
  await traced.rotateTrace(next);
  t.regex(await readFile(files.traceFile, 'utf8'), /\n7@1765120001100000000 runstate_set current_run_state 9 \(running\) new_state 7 \(finish-migrate\)\n$/);
  await appendFile(request.outputFile, '7@1765120005000000000 vhost_vdpa_suspend dev: 0x1\n');
  t.deepEqual(await traced.settleTrace(), []);
  t.is(await readFile(next, 'utf8'), '7@1765120005000000000 vhost_vdpa_suspend dev: 0x1\n');
  t.is(traced.currentTraceFile, next);
});

test("lost events count against the part of the capture they were in, in the tracer's words; the next migration's part is clean", async (t) => {
  const { dir, traced, request } = await setUp(t);
  await appendFile(request.outputFile, '7@1765120001000000000 vhost_vdpa_suspend dev: 0x1\nLost 12 events\n');
  await appendFile(request.stderrFile, 'WARNING: Number of errors: 0, skipped probes: 2\n');
  t.deepEqual(await traced.settleTrace(), [
    'bpftrace on here (src of migration 1): Lost 12 events',
    'bpftrace on here (src of migration 1): WARNING: Number of errors: 0, skipped probes: 2',
  ]);
  await traced.rotateTrace(join(dir, 'traces', '0002-src.log'));
  await appendFile(request.outputFile, '7@1765120005000000000 vhost_vdpa_suspend dev: 0x1\n');
  t.deepEqual(await traced.settleTrace(), []);
});

test('a tracer that died before its QEMU was stopped is a fault; one ended by stop is not', async (t) => {
  const { traced, tracer, stopped } = await setUp(t);
  await tracer.kill('SIGKILL');
  await tracer.exited;
  const faults = await traced.settleTrace();
  t.is(faults.length, 1);
  t.regex(faults[0], /^bpftrace on here \(src of migration 1\) ended before its QEMU \(signal SIGKILL\): the trace is incomplete$/);

  const other = await setUp(t);
  await other.traced.stop();
  t.deepEqual(other.stopped, ['stop']);
  t.false(other.tracer.alive, 'stop ends the tracer');
  t.deepEqual(await other.traced.settleTrace(), []);
  t.deepEqual(stopped, []);
});
