/**
 * `plan` cannot print something `run` would not do: a real run's recorded command lines
 * (argv.ndjson) against the plan made with the run's facts, and the same comparison failing when
 * the run applies a launch hook the plan was not told about.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MigrationHooks, ProgressSink } from '../../harness/migration/interfaces.ts';
import { loadProfile } from '../../harness/profile/load.ts';
import { readArgvLog } from '../../harness/results/argv-log.ts';
import { runBenchmark } from '../../harness/run/run.ts';
import { comparePlanWithRun } from '../helpers/plan-argv.ts';
import { requires } from '../helpers/requires.ts';

const test = requires('qemu');

const quiet: ProgressSink = { blockStarted: () => undefined, migrationDone: () => undefined, note: () => undefined };
const NARROWING = { vmSizes: ['256M'], variants: ['precopy'], iterations: 1, warmup: 0 };

/** A launch hook of the kind a lab adds (here: a second vCPU), unknown to `plan` unless it is given the same. */
const secondCpu: MigrationHooks = { launch: ({ vm }) => ({ vm: { ...vm, cpus: 2 } }) };

async function localProfile(workdir: string) {
  const loaded = await loadProfile('profiles/local.yaml');
  for (const host of loaded.profile.hosts) host.workdir = workdir;
  return loaded;
}

test.serial('a run with a launch hook the plan does not know differs from the plan at every QEMU it started', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'vb-plan-argv-'));
  try {
    const outcome = await runBenchmark(await localProfile(join(out, 'hosts')), { ...NARROWING, outDir: out, progress: quiet, hooks: [secondCpu] });
    t.is(outcome.manifest.state, 'completed');
    t.is(outcome.records[0].status, 'ok', outcome.records[0].reason);

    // every process on every host is listed: the lock holder, the host steps, both QEMU
    const started = await readArgvLog(outcome.dir);
    t.deepEqual(
      started.map((e) => e.seq),
      started.map((_, i) => i + 1),
    );
    t.is(started.filter((e) => e.role === 'qemu').length, 2);
    t.true(
      started.some((e) => e.via === 'stream'),
      'the lab lock holder',
    );
    t.true(
      started.some((e) => e.argv[0] === 'rm' && e.argv.includes(join(out, 'hosts', outcome.manifest.runId))),
      'the run directory removed at the end',
    );

    const blind = await comparePlanWithRun(outcome.dir, await localProfile(join(out, 'hosts')), NARROWING);
    t.is(blind.matched, 2, 'only the run directories, made once on each side');
    t.is(blind.mismatches.length, 2, blind.mismatches.join('\n'));
    t.regex(blind.mismatches[0], /plan: .* -smp 1 .*\n {2}run: {2}.* -smp 2 /);

    const told = await comparePlanWithRun(outcome.dir, await localProfile(join(out, 'hosts')), NARROWING, [secondCpu]);
    t.deepEqual(told.mismatches, []);
    t.deepEqual([told.unplanned, told.notStarted], [[], []]);
    t.is(told.matched, 4, 'both QEMU and both run directories');
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
