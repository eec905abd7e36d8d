import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { BIN, REPO, vdpaBench } from '../helpers/cli.ts';
import type { DowntimeJson } from '../../harness/cli/downtime-command.ts';
import { parseJson } from '../helpers/json.ts';

const legacy = (t: number, event: string, args: string) => `4242@${(t / 1e6).toFixed(6)}:${event} ${args}`;

async function traces(source: string[], destination: string[]) {
  const dir = await mkdtemp(join(tmpdir(), 'vb-cli-'));
  await writeFile(join(dir, 'src.log'), source.join('\n') + '\n');
  await writeFile(join(dir, 'dst.log'), destination.join('\n') + '\n');
  return { source: join(dir, 'src.log'), destination: join(dir, 'dst.log') };
}

test('downtime --json applies the seed rule by default', async (t) => {
  const f = await traces(
    [legacy(1_000_000, 'vhost_vdpa_suspend', 'dev: 0x1'), legacy(2_000_000, 'vhost_vdpa_suspend', 'dev: 0x1')],
    ['2025-07-21T18:43:28.5Z ignored_event x', legacy(4_720_000, 'vhost_vdpa_set_vring_enable_one', 'dev: 0x2, idx: 15, enable: 1, r: 0')],
  );
  const r = await vdpaBench(['downtime', '--source', f.source, '--destination', f.destination, '--json']);
  t.is(r.exitCode, 0, r.stderr);
  const out = parseJson<DowntimeJson>(r.stdout);
  t.is(out.downtimeUs, 2_720_000);
  t.deepEqual(out.start.event, 'vhost_vdpa_suspend');
  t.is(out.start.time, 2_000_000);
  t.is(out.end.event, 'vhost_vdpa_set_vring_enable_one');
  t.is(out.end.time, 4_720_000);
});

test('downtime --clock-offset-us corrects destination times', async (t) => {
  const f = await traces(
    [legacy(1_000_000, 'vhost_vdpa_suspend', 'dev: 0x1')],
    [legacy(1_500_000, 'vhost_vdpa_set_vring_enable_one', 'dev: 0x2, idx: 1, enable: 1, r: 0')],
  );
  const r = await vdpaBench(['downtime', '--source', f.source, '--destination', f.destination, '--clock-offset-us', '-250000', '--json']);
  t.is(parseJson<DowntimeJson>(r.stdout).downtimeUs, 750_000);
});

test('downtime names the missing event and exits non-zero', async (t) => {
  const f = await traces(
    [legacy(1_000, 'runstate_set', 'current_run_state 9 (running) new_state 7 (finish-migrate)')],
    [legacy(2_000, 'runstate_set', 'current_run_state 1 (inmigrate) new_state 9 (running)')],
  );
  const r = await vdpaBench(['downtime', '--source', f.source, '--destination', f.destination]);
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /missing event on the source: vhost_vdpa_suspend or vhost_vdpa_reset_device/);
  const ok = await vdpaBench(['downtime', '--source', f.source, '--destination', f.destination, '--metric', 'runstate']);
  t.is(ok.exitCode, 0);
  t.regex(ok.stdout, /runstate: 1\.0 ms \(1000 µs\)/);
});

test('downtime on a missing file is a usage error, not a stack trace', async (t) => {
  const r = await vdpaBench(['downtime', '--source', '/nonexistent/a', '--destination', '/nonexistent/b']);
  t.is(r.exitCode, 2);
  t.regex(r.stderr, /cannot read trace file \/nonexistent\/a: no such file/);
  t.notRegex(r.stderr, /at .*\.ts:\d+/);
});

test('validate prints file:line:col key: message and exits 2', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vb-cli-'));
  const file = join(dir, 'bad.yaml');
  await writeFile(file, 'name: x\nhosts:\n  - name: a\nvariants:\n  - name: v\nmatrix:\n  vmSizes: [12Q]\niterations: -1\n');
  const r = await vdpaBench(['validate', file]);
  t.is(r.exitCode, 2);
  t.deepEqual(r.stderr.trim().split('\n'), [
    `${file}:7:13 matrix.vmSizes.0: "12Q" is not a size: write a positive number with a unit, e.g. 512M, 39G, 0.5G or 128GiB`,
    `${file}:8:13 iterations: Too small: expected number to be >=1`,
  ]);
  const good = await vdpaBench(['validate', 'profiles/local.yaml']);
  t.is(good.exitCode, 0);
});

test('every subcommand has help', async (t) => {
  const top = await vdpaBench(['--help']);
  t.is(top.exitCode, 0);
  const commands = [...top.stdout.matchAll(/^ {2}(\w[\w-]*) /gm)].map((m) => m[1]).filter((c) => c !== 'help');
  t.true(commands.includes('run') && commands.includes('downtime') && commands.includes('validate'));
  for (const command of commands) {
    const r = await vdpaBench([command, '--help']);
    t.is(r.exitCode, 0, command);
    t.regex(r.stdout, /Usage: vdpa-bench/, command);
  }
});

/** $0 node, $1 the CLI, $2 the command, $3 the reader (split into words); prints node's exit status on stderr. */
const PIPED_HELP = '"$0" "$1" "$2" --help | $3; echo "exit $' + '{PIPESTATUS[0]}" >&2';

test('help piped into a reader that leaves early (head -1, true) ends quietly with 0, not on EPIPE', async (t) => {
  // `true` exits before node has started, so the write meets a closed pipe every time; head -1 is the everyday case
  for (const [command, reader] of [
    ['bundle', 'head -1'],
    ['bundle', 'true'],
    ['report', 'true'],
  ]) {
    const r = await execa('bash', ['-c', PIPED_HELP, process.execPath, BIN, command, reader], { cwd: REPO, reject: false });
    t.is(r.stderr, 'exit 0', `${command} --help | ${reader}`);
    if (reader === 'head -1') t.is(r.stdout, 'Usage: vdpa-bench bundle [options] <run-dir>');
  }
});

test('cleanup of a lab-in-a-box profile points at `lab cleanup` instead of reaching for namespaces that are gone', async (t) => {
  const r = await vdpaBench(['cleanup', 'profiles/lab-in-a-box.yaml']);
  t.is(r.exitCode, 2, r.stderr);
  t.regex(r.stderr, /is a lab in a box: its namespaces, processes and locks are removed by `vdpa-bench lab cleanup`/);
  t.notRegex(r.stderr, /Cannot open network namespace/);
});
