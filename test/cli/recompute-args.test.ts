/** The recompute arguments run through the real CLI: a record's downtime comes back from its own traces with its recorded offset. */
import test from 'ava';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recomputeDowntimeArgs } from '../../harness/cli/recompute-args.ts';
import { vdpaBench } from '../helpers/cli.ts';
import type { DowntimeJson } from '../../harness/cli/downtime-command.ts';
import { parseJson } from '../helpers/json.ts';

const legacy = (t: number, event: string, args: string) => `4242@${(t / 1e6).toFixed(6)}:${event} ${args}`;

async function runDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vb-recompute-'));
  await mkdir(join(dir, 'traces'));
  await writeFile(join(dir, 'traces', 'src.log'), legacy(1_000_000, 'vhost_vdpa_suspend', 'dev: 0x1') + '\n');
  await writeFile(join(dir, 'traces', 'dst.log'), legacy(1_500_000, 'vhost_vdpa_set_vring_enable_one', 'dev: 0x2, idx: 1, enable: 1, r: 0') + '\n');
  return dir;
}

const traces = { source: 'traces/src.log', destination: 'traces/dst.log' };
const clock = (offsetUs: number) => ({ offsetUs, uncertaintyUs: 10, method: 'ntp-exchange' });

test('the recorded clock offset is the one the recomputation applies', async (t) => {
  const dir = await runDir();
  for (const [offsetUs, downtimeMs] of [
    [-250_000, 750],
    [100_000, 400],
  ]) {
    const args = recomputeDowntimeArgs(dir, { traces, clock: clock(offsetUs) }, 'vdpa');
    const r = await vdpaBench(args!);
    t.is(r.exitCode, 0, r.stderr);
    t.is(parseJson<DowntimeJson>(r.stdout).downtimeMs, downtimeMs, `offset ${offsetUs} µs`);
  }
});

test('a record without a clock offset is not recomputable (never an assumed 0)', (t) => {
  t.is(recomputeDowntimeArgs('/run', { traces }, 'vdpa'), null);
});

test('trace paths and the metric stay single arguments, relative to the run directory', (t) => {
  const hostile = { source: "traces/a b;$(touch /tmp/x)'.log", destination: 'traces/--metric' };
  const args = recomputeDowntimeArgs('/runs/r 1', { traces: hostile, clock: clock(0) }, 'vdpa; rm -rf /')!;
  t.is(args[args.indexOf('--source') + 1], `/runs/r 1/${hostile.source}`);
  t.is(args[args.indexOf('--destination') + 1], '/runs/r 1/traces/--metric');
  t.is(args[args.indexOf('--metric') + 1], 'vdpa; rm -rf /');
  t.is(args[args.indexOf('--clock-offset-us') + 1], '0');
});
