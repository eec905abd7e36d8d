/**
 * The leftover scan finds the dtrace backend's tracer watchdog of a dead run by the run
 * directory in its command line, as it finds QEMU, and ending it ends its group (the tracer
 * under it), never a process whose command line lacks the marker.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { endQemuProcess, findQemuProcesses } from '../../harness/qemu/processes.ts';
import { TRACER_WATCHDOG_NAME } from '../../harness/qemu/tracer.ts';

test("a run's tracer watchdog is found by its run directory and ended with the tracer under it", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vb-tracer-scan-'));
  const host = new LocalTransport('here');
  try {
    const out = join(dir, 'traces', '0001-a-256M-src-here.tracer-out');
    // the watchdog's shape: bash -c SCRIPT vdpa-bench-tracer MODE PID OUT TRACER...; the "tracer" a sleep in its group
    const watchdog = await host.start(['bash', '-c', 'sleep 60 & wait', TRACER_WATCHDOG_NAME, '-', '1', out, 'qemu-trace-stap'], { role: 'tracer' });
    const unrelated = await host.start(['bash', '-c', 'sleep 60', 'other-script', dir]);
    await new Promise((r) => setTimeout(r, 300));
    const found = await findQemuProcesses(host, dir);
    t.deepEqual(
      found.map((p) => p.pid),
      [watchdog.pid],
    );
    let child = '';
    // under load the watchdog's tracer may take a while to appear
    for (let i = 0; i < 100 && !child; i++) {
      child = (await host.run(['pgrep', '-P', String(watchdog.pid)], { allowFailure: true })).stdout.trim();
      if (!child) await new Promise((r) => setTimeout(r, 100));
    }
    t.regex(child, /^\d+$/);
    await endQemuProcess(host, watchdog.pid, dir);
    await watchdog.exited;
    // gone, or a zombie until whoever adopted it reaps it: not running either way
    const running = async () =>
      (await host.run(['bash', '-c', '[ -d /proc/$1 ] && [ "$(awk \'{print $3}\' /proc/$1/stat)" != Z ]', '_', child], { allowFailure: true })).exitCode === 0;
    let alive = await running();
    for (let i = 0; i < 50 && alive; i++) {
      await new Promise((r) => setTimeout(r, 100));
      alive = await running();
    }
    t.false(alive, 'the tracer under the watchdog went with its group');
    t.true(unrelated.alive);
    await unrelated.kill('SIGKILL');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
