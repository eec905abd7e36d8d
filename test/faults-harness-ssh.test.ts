/**
 * kill -9 of the harness mid-run on an ssh host (the test's own sshd on 127.0.0.1, both lab hosts
 * through it): the lock holder is a session of the master connection, so it ends with the
 * harness and the next run, started at once, takes the lab over and completes.
 */
import { requires } from './helpers/requires.ts';
import { execa } from 'execa';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { faultLab, qemuUnder, waitFor } from './helpers/fault-lab.ts';
import { startSshd } from '../testbed/sshd.ts';
import type { RunManifest } from '../harness/results/types.ts';
import type { OwnerRecord } from '../harness/run/ownership.ts';
import { parseJson, readJson } from './helpers/json.ts';

const BIN = new URL('../bin/vdpa-bench.js', import.meta.url).pathname;

const test = requires('root', 'sshd', 'qemu');

test('kill -9 of the harness mid-run on an ssh host: the next run started at once takes the lock over and completes; no QEMU of the dead run is left', async (t) => {
  const sshd = await startSshd();
  t.teardown(() => sshd.stop());
  const lab = await faultLab(
    t,
    'ssh-kill',
    `variants:
  - name: slow
    parameters: { max-bandwidth: 400000 }
matrix: { vmSizes: [256M] }
iterations: 2
warmup: 0
migration: { timeout: 90s }
`,
    { kind: 'ssh', ...sshd.config },
  );
  await mkdir(lab.workdir);
  const child = execa('node', [BIN, 'run', lab.profilePath, '--out', lab.resultsDir], { reject: false, all: true });
  const dir = await waitFor('the run directory', async () => {
    const entries = await readdir(lab.resultsDir).catch(() => [] as string[]);
    return entries.length === 1 ? join(lab.resultsDir, entries[0]) : undefined;
  });
  await waitFor('a migration under way (both QEMU up)', async () => (await qemuUnder(lab.workdir)).length >= 2, 180_000);
  const deadRunId = (await readJson<RunManifest>(join(dir, 'manifest.json'))).runId;
  const running = await qemuUnder(lab.workdir);
  process.kill(child.pid!, 'SIGKILL');
  await child;
  t.log(`killed the harness with ${running.length} QEMU running: ${running.map((p) => p.pid).join(', ')}`);
  const lockText = await readFile(join(lab.workdir, 'vdpa-bench.lock'), 'utf8');
  t.is(parseJson<OwnerRecord>(lockText).runId, deadRunId, "the dead run's lock file stays, naming it");

  const started = Date.now();
  const next = await execa('node', [BIN, 'run', lab.profilePath, '--out', join(lab.dir, 'next')], { reject: false });
  t.log(`next run: exit ${next.exitCode} after ${Date.now() - started} ms\n${next.stderr}`);
  t.is(next.exitCode, 0);
  t.regex(next.stderr, new RegExp(`took over the lock of run ${deadRunId} .*that harness is gone`));
  const [nextDir] = await readdir(join(lab.dir, 'next'));
  const manifest = await readJson<RunManifest>(join(lab.dir, 'next', nextDir, 'manifest.json'));
  t.is(manifest.state, 'completed');
  t.is(manifest.recovered?.[0].runId, deadRunId);
  t.is(manifest.recovered?.[0].pid, child.pid ?? null);
  const left = (await qemuUnder(lab.workdir)).filter((p) => p.cmdline.includes(deadRunId));
  t.deepEqual(left, [], 'no QEMU of the dead run left');
  await t.throwsAsync(readFile(join(lab.workdir, 'vdpa-bench.lock')), { code: 'ENOENT' }, 'the lock is gone after the next run');
});
