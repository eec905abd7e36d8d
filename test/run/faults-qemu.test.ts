/**
 * Faults injected for real into runs of real QEMU (TCG, 256M guests): QEMU killed with SIGKILL
 * mid-migration and between migrations, a migration that cannot converge before its timeout,
 * a trace file deleted under QEMU, and a torn trace line.
 */
import { access, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { analyseMigration } from '../../harness/metrics/analyse.ts';
import type { MigrationHooks } from '../../harness/migration/interfaces.ts';
import { runBenchmark } from '../../harness/run/run.ts';
import { metricSetup } from '../../harness/run/selection.ts';
import { loadProfile } from '../../harness/profile/load.ts';
import type { RunningQemu } from '../../harness/qemu/running.ts';
import { readIterations } from '../../harness/results/store.ts';
import { faultLab, qemuUnder, silentProgress, whenMigrationActive } from '../helpers/fault-lab.ts';
import { requires } from '../helpers/requires.ts';
import type { RunManifest } from '../../harness/results/types.ts';
import { readJson } from '../helpers/json.ts';

const test = requires('qemu');

/** Kills a QEMU with SIGKILL once the migration is active (after `delayMs`), noting whether it had completed by then. */
function killWhenActive(victim: RunningQemu, watch: RunningQemu, delayMs: number, log: string[]): void {
  whenMigrationActive(watch, delayMs, log, (completed) => {
    log.push(`${victim.label}: killed pid ${victim.process.pid}${completed ? ' AFTER completion' : ' mid-migration'}`);
    process.kill(victim.process.pid, 'SIGKILL');
  });
}

test('QEMU killed mid-migration (destination, source) or between migrations: recorded failed, pair restarted, run goes on, nothing left', async (t) => {
  const lab = await faultLab(
    t,
    'qemu-deaths',
    `variants:
  - name: slow
    # 400 kB/s stretches a 256M firmware guest's migration to seconds: a window to kill in
    parameters: { max-bandwidth: 400000 }
matrix: { vmSizes: [256M] }
iterations: 6
warmup: 0
migration: { timeout: 90s, maxConsecutiveFailures: 3 }
`,
  );
  const loaded = await loadProfile(lab.profilePath);
  const log: string[] = [];
  const hooks: MigrationHooks[] = [
    {
      async beforeMigration({ planned, source, destination }) {
        if (planned.seq === 2) killWhenActive(destination, source, 300, log);
        if (planned.seq === 3) killWhenActive(source, source, 300, log);
      },
      async afterMigration({ planned, destination }) {
        // between migrations: the guest's new home dies before the next migration starts
        if (planned.seq === 4 && destination) {
          log.push(`killed pid ${destination.process.pid} between migrations 4 and 5`);
          process.kill(destination.process.pid, 'SIGKILL');
          await destination.process.exited;
        }
      },
    },
  ];
  const outcome = await runBenchmark(loaded, { outDir: lab.resultsDir, progress: silentProgress(), hooks });
  t.log(log.join('\n'));
  const { records, tornLines } = await readIterations(outcome.dir);
  t.deepEqual(tornLines, []);
  t.deepEqual(
    records.map((r) => r.seq),
    [1, 2, 3, 4, 5, 6],
    'every migration is recorded once, in order',
  );
  t.deepEqual(
    records.map((r) => r.status),
    ['ok', 'failed', 'failed', 'ok', 'failed', 'ok'],
    records.map((r) => `${r.seq} ${r.status} ${r.reason ?? ''}`).join('\n'),
  );
  t.true(
    log.some((l) => l.startsWith('dst of migration 2') && l.endsWith('mid-migration')),
    'the destination died mid-migration',
  );
  t.true(
    log.some((l) => l.startsWith('src of migration') && l.endsWith('mid-migration')),
    'the source died mid-migration',
  );
  t.regex(records[1].reason!, /migration failed|destination|closed/i);
  t.regex(records[2].reason!, /QMP connection closed/);
  t.regex(records[4].reason!, /closed|QEMU exited/i);
  for (const r of records.filter((x) => x.status === 'ok')) t.true(r.downtimeMs! > 0);
  t.is(outcome.manifest.state, 'completed');
  t.deepEqual(outcome.manifest.abandonedCells, []);
  t.deepEqual(await qemuUnder(lab.workdir), [], 'no QEMU left behind');
  await t.throwsAsync(access(join(lab.workdir, 'vdpa-bench.lock')), undefined, 'lock released');
  await t.throwsAsync(access(join(lab.workdir, outcome.manifest.runId)), undefined, 'host run directory removed');
});

test('a migration that cannot converge is cancelled at its timeout; K in a row abandon the cell; the next cell runs', async (t) => {
  const lab = await faultLab(
    t,
    'timeouts',
    `variants:
  - name: stuck
    # 1 kB/s: the guest's RAM cannot be sent before the timeout
    parameters: { max-bandwidth: 1000 }
  - name: precopy
matrix: { vmSizes: [256M] }
iterations: 3
warmup: 0
# generous: a loaded CI machine can take over 10 s for a healthy 256M migration under TCG
migration: { timeout: 25s, maxConsecutiveFailures: 2 }
`,
  );
  const loaded = await loadProfile(lab.profilePath);
  const notes: string[] = [];
  const outcome = await runBenchmark(loaded, { outDir: lab.resultsDir, progress: silentProgress(notes) });
  const { records } = await readIterations(outcome.dir);
  const stuck = records.filter((r) => r.variant === 'stuck');
  t.deepEqual(
    stuck.map((r) => r.status),
    ['failed', 'failed'],
    'the third stuck migration is never started',
  );
  for (const r of stuck) t.regex(r.reason!, /did not complete within 25 s: cancelled/);
  const precopy = records.filter((r) => r.variant === 'precopy');
  t.deepEqual(
    precopy.map((r) => r.status),
    ['ok', 'ok', 'ok'],
    precopy.map((r) => r.reason).join('\n'),
  );
  const abandoned = outcome.manifest.abandonedCells as { cell: { variant: string }; reason: string; afterSeq: number }[];
  t.is(abandoned.length, 1);
  t.is(abandoned[0].cell.variant, 'stuck');
  t.is(abandoned[0].afterSeq, 2);
  t.regex(abandoned[0].reason, /2 migrations in a row not ok .*did not complete within 25 s/);
  t.true(notes.some((n) => n.includes('abandoned')));
  const manifest = await readJson<RunManifest>(join(outcome.dir, 'manifest.json'));
  t.deepEqual(manifest.abandonedCells, abandoned, 'the manifest on disk names the abandoned cell');
  t.deepEqual(await qemuUnder(lab.workdir), []);
});

test('a trace file deleted under QEMU makes the migration invalid with its path; a torn trace line is named by the analysis', async (t) => {
  const lab = await faultLab(
    t,
    'traces',
    `variants:
  - name: precopy
matrix: { vmSizes: [256M] }
iterations: 2
warmup: 0
migration: { timeout: 60s }
`,
  );
  const loaded = await loadProfile(lab.profilePath);
  let deleted = '';
  const hooks: MigrationHooks[] = [
    {
      async beforeMigration({ planned, source }) {
        if (planned.seq !== 1) return;
        deleted = source.currentTraceFile;
        await unlink(deleted);
      },
    },
  ];
  const outcome = await runBenchmark(loaded, { outDir: lab.resultsDir, progress: silentProgress(), hooks });
  const { records } = await readIterations(outcome.dir);
  t.deepEqual(
    records.map((r) => r.status),
    ['invalid', 'ok'],
  );
  t.true(records[0].reason!.includes(`trace file missing: source trace ${deleted} on hostA`), records[0].reason);
  t.is(records[0].downtimeMs, null);

  // torn: the destination's trace cut in the middle of the line the downtime ends on
  const ok = records[1];
  const sourceText = await readFile(join(outcome.dir, ok.traces.source), 'utf8');
  const destinationText = await readFile(join(outcome.dir, ok.traces.destination), 'utf8');
  const endLine = ok.metricAnchors!.runstate.end.line;
  const lines = destinationText.split('\n');
  const torn = [...lines.slice(0, endLine - 1), lines[endLine - 1].slice(0, 15)].join('\n');
  const { names, rules, primary } = metricSetup(loaded.profile);
  const analysis = analyseMigration({ sourceText, destinationText: torn, rules, names, primary, clockOffsetUs: 0 });
  t.is(analysis.status, 'invalid');
  t.regex(analysis.reason!, /runstate_set/, 'names the missing event');
  t.true(analysis.reason!.includes(`destination trace has 1 unparsed line, first at line ${endLine}`), analysis.reason);
  const intact = analyseMigration({ sourceText, destinationText, rules, names, primary, clockOffsetUs: 0 });
  t.is(intact.downtimeMs, ok.downtimeMs, 'the untouched pair still gives the recorded downtime');
  t.deepEqual(await qemuUnder(lab.workdir), []);
});
