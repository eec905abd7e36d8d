/**
 * Commands for labs that run unattended: nightly, history, merge, cleanup; and the run command's
 * interrupt handling and --resume/--shard plumbing.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { parseShard, type Shard } from '../run/shard.ts';
import { DEFAULT_NIGHTLY_OPTIONS, type NightlyOptions, type NightlyVerdict } from '../nightly/compare.ts';
import type { HistoryRun } from '../nightly/history.ts';
import type { LoadedProfile } from '../profile/load.ts';
import { newRunId, readManifest } from '../results/store.ts';
import { nightlyMatrixOptions, positiveInt, probability, type OptionsOf, type Out } from './options.ts';
import { UsageError } from './usage-error.ts';

// Command implementations load their modules when they run: `vdpa-bench downtime` and `--help`
// should not pay for ssh, the engine and zod at start-up.

export function parseShardOption(text: string): Shard {
  try {
    return parseShard(text);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `run --resume DIR` without a profile argument uses the profile file the run was started from. */
export async function resolveRunProfile(profileArg: string | undefined, resumeDir: string | undefined): Promise<string> {
  if (profileArg) return profileArg;
  if (!resumeDir) throw new UsageError('run: a profile is required (or --resume <run-dir>)');
  const manifest = await readManifest(resumeDir);
  if (!manifest) throw new UsageError(`--resume ${resumeDir}: no readable manifest.json there`);
  return manifest.profile.path;
}

/**
 * First SIGINT/SIGTERM/SIGHUP: abort, so the engine ends its QEMU processes, the run removes its host
 * directories and lock, and the manifest says interrupted. A second one exits at once (execa
 * still kills this machine's children on exit; `cleanup` ends anything left on remote hosts).
 */
export function installInterruptHandlers(stderr: (s: string) => void, profilePath: string, exit: (code: number) => never = (c) => process.exit(c)) {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // a hang-up is the terminal going away (an ssh session to the lab's controller dropped): the
    // run still cleans up, but what it prints may find no terminal, and a failed write must not
    // end it before its QEMU processes (each in a session of its own) are ended
    if (signal === 'SIGHUP') for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
    interrupts++;
    if (interrupts === 1) {
      stderr(`\n${signal}: stopping after cleaning up (QEMU processes are ended, results kept). Press Ctrl-C again to force.\n`);
      controller.abort();
      return;
    }
    stderr(`${signal} again: forcing exit without cleaning up; \`vdpa-bench cleanup ${profilePath}\` ends what is left on the hosts and clears the lock\n`);
    exit(130);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  return {
    signal: controller.signal,
    dispose() {
      for (const s of signals) process.off(s, onSignal);
    },
  };
}

/**
 * A run stopped because a host stayed unreachable: its error message gets what the user does
 * next — where the completed migrations are, and the cleanup command for once the host is back.
 */
export async function explainStoppedRun(error: unknown, profilePath: string, workdir: string | undefined): Promise<void> {
  const { HostUnreachableError, shellJoin } = await import('../hosts/transport.ts');
  if (!(error instanceof HostUnreachableError)) return;
  const lines = [''];
  if (error.runDir) {
    const { readIterations } = await import('../results/store.ts');
    const records = await readIterations(error.runDir).then(
      (r) => r.records,
      () => [],
    );
    const ok = records.filter((r) => r.status === 'ok').length;
    lines.push(
      `The run stopped (manifest state: failed). Its ${records.length} recorded migration${records.length === 1 ? '' : 's'} (${ok} ok) are kept in ${error.runDir} (\`vdpa-bench report\` reads them).`,
    );
  }
  const workdirArgs = workdir ? ['--workdir', resolve(workdir)] : [];
  const cleanup = shellJoin(['vdpa-bench', 'cleanup', profilePath, ...workdirArgs]);
  const hosts = [error.host, ...error.alsoUnreachable];
  const resume = error.runDir
    ? ` (or \`${shellJoin(['vdpa-bench', 'run', '--resume', error.runDir, ...workdirArgs])}\` continues the run where it stopped)`
    : '';
  lines.push(
    `Once ${hosts.join(' and ')} ${hosts.length === 1 ? 'is' : 'are'} back, \`${cleanup}\` ends the QEMU processes this run left there and clears its lock${resume}.`,
  );
  error.message += lines.join('\n');
}

/** The commands of a lab that runs unattended: cleanup, history, merge, nightly. */
export function addUnattendedLabCommands(program: Command, out: Out, setExit: (code: number) => void): void {
  addCleanupCommand(program, out, setExit);
  addHistoryCommand(program, out);
  addMergeCommand(program, out);
  addNightlyCommand(program, out, setExit);
}

function addCleanupCommand(program: Command, out: Out, setExit: (code: number) => void): void {
  program
    .command('cleanup')
    .description("End QEMU processes a dead vdpa-bench run left on the profile's hosts, remove its host directories and clear its stale lock")
    .argument('<profile>', 'lab profile (YAML)')
    .option('--break-lock', 'also clear a lock whose harness runs on another controller machine (only once you know it is gone)')
    .option('--workdir <dir>', "the hosts' workdir, when the run was given --workdir")
    .addHelpText(
      'after',
      `
Only what can be proven to be vdpa-bench's is touched: run directories in a host's workdir with an
owner record whose harness process is gone, and QEMU processes of our uid whose command line
points into such a directory. A run whose harness still runs is left alone and named.`,
    )
    .action(async (profilePath, opts) => {
      const { loadProfile } = await import('../profile/load.ts');
      const { openTransport } = await import('../hosts/open.ts');
      const { cleanLeftovers, describeCleanup, describeHolder } = await import('../run/ownership.ts');
      const { clearStaleLock } = await import('../run/lock.ts');
      const { profile } = await loadProfile(profilePath);
      const { needsLabBox } = await import('../profile/lab-box-checks.ts');
      if (needsLabBox(profile)) {
        // its hosts are namespaces that live only as long as a run: their leftovers are the lab's own
        out.stderr(`vdpa-bench: ${profilePath} is a lab in a box: its namespaces, processes and locks are removed by \`vdpa-bench lab cleanup\`\n`);
        return setExit(2);
      }
      if (opts.workdir) for (const host of profile.hosts) host.workdir = resolve(opts.workdir);
      let busy = false;
      for (const host of profile.hosts) {
        const transport = openTransport(host);
        try {
          // the lock first: once no process holds it, its run is provably gone, wherever its harness ran
          const lock = await clearStaleLock(transport, host.workdir);
          const named = lock.holder ? describeHolder(lock.holder) : `unreadable owner record ${JSON.stringify(lock.text.slice(0, 80))}`;
          if (lock.state === 'cleared') out.stdout(`${host.name}: cleared the stale lock of ${named}\n`);
          for (const report of await cleanLeftovers(transport, host.workdir, {
            breakUnknown: opts.breakLock,
            goneRunId: lock.state === 'cleared' ? lock.holder?.runId : undefined,
          }))
            out.stdout(describeCleanup(report) + '\n');
          if (lock.state === 'held') {
            busy = true;
            out.stderr(`${host.name}: lock kept: ${named} still holds ${join(host.workdir, 'vdpa-bench.lock')}\n`);
          }
        } finally {
          await transport.close();
        }
      }
      if (busy) setExit(1);
    });
}

function addHistoryCommand(program: Command, out: Out): void {
  program
    .command('history')
    .description('List the runs in a results directory with their lab fingerprints (and what changed between them)')
    .argument('<dir>', 'directory of run directories (e.g. the --history of nightly)')
    .option('--json', 'print JSON')
    .action(async (dir, opts) => {
      const { loadHistory } = await import('../nightly/history.ts');
      const { fingerprintChanges } = await import('../results/fingerprint.ts');
      const { runs, skipped } = await loadHistory(dir);
      if (opts.json) {
        out.stdout(
          JSON.stringify(
            runs.map((r) => ({
              runId: r.manifest.runId,
              dir: r.dir,
              profile: r.manifest.profile.name,
              startedAt: r.manifest.startedAt,
              state: r.manifest.state,
              fingerprint: r.fingerprint.hash,
              lab: r.fingerprint.parts,
              ...counts(r),
            })),
            null,
            2,
          ) + '\n',
        );
        return;
      }
      const lastByProfile = new Map<string, HistoryRun>();
      for (const r of runs) {
        const c = counts(r);
        out.stdout(
          `${r.manifest.startedAt}  ${r.manifest.runId.padEnd(40)} ${r.manifest.state.padEnd(11)} lab ${r.fingerprint.hash}  ${c.ok}/${c.migrations} ok${r.manifest.options.shard ? `  shard ${r.manifest.options.shard}` : ''}\n`,
        );
        const before = lastByProfile.get(r.manifest.profile.name);
        if (before && before.fingerprint.hash !== r.fingerprint.hash)
          for (const change of fingerprintChanges(before.fingerprint, r.fingerprint)) out.stdout(`    lab changed: ${change}\n`);
        lastByProfile.set(r.manifest.profile.name, r);
      }
      if (runs.length === 0) out.stderr(`${dir}: no run directories\n`);
      for (const s of skipped) out.stderr(`skipped ${s}\n`);
    });
}

function addMergeCommand(program: Command, out: Out): void {
  program
    .command('merge')
    .description('Combine the run directories of all shards (run --shard i/n) into one run directory')
    .argument('<run-dirs...>', 'one run directory per shard')
    .option('-o, --out <dir>', 'parent directory of the merged run directory', 'results')
    .action(async (dirs, opts) => {
      const { mergeShards } = await import('../run/merge.ts');
      const merged = await mergeShards(dirs, opts.out).catch((error) => {
        throw new UsageError((error as Error).message);
      });
      for (const note of merged.notes) out.stderr(`note: ${note}\n`);
      out.stderr(`${merged.records.length} migrations from ${dirs.length} shards\n`);
      out.stdout(merged.dir + '\n');
    });
}

function addNightlyCommand(program: Command, out: Out, setExit: (code: number) => void): void {
  nightlyCommand(program).action((profilePath, opts) => nightlyAction(profilePath, opts, out, setExit));
}

/** `nightly` as declared: its argument, options and help (the action's option types come from here). */
function nightlyCommand(program: Command) {
  return nightlyMatrixOptions(
    program
      .command('nightly')
      .description(
        'Run the profile, then compare each cell with the trailing window of earlier comparable nights; exit 0 no regression, 1 regression, 2 the run could not be made',
      )
      .argument('<profile>', 'lab profile (YAML)')
      .option('--history <dir>', 'results history: tonight is written here, earlier nights are read from here', 'results/nightly')
      .option('--from-run <run-dir>', 'judge this existing run (e.g. a merged sharded run) instead of running')
      .option('--window <nights>', 'earlier comparable nights pooled as the baseline', positiveInt, DEFAULT_NIGHTLY_OPTIONS.window)
      .option('--min-baseline <nights>', 'fewest earlier nights before a cell gets a verdict', positiveInt, DEFAULT_NIGHTLY_OPTIONS.minBaselineNights)
      .option('--alpha <p>', 'significance level of the Mann–Whitney tests', probability, DEFAULT_NIGHTLY_OPTIONS.alpha)
      .option('--min-segment <nights>', 'fewest nights on each side of a change point', positiveInt, DEFAULT_NIGHTLY_OPTIONS.minSegment)
      .option('--junit <file>', 'also write the JUnit XML here (it is always written into the run directory)'),
  ).addHelpText(
    'after',
    `
Comparable nights: same profile name and the same lab fingerprint (host kernels, CPUs, firmware,
QEMU builds and their migration settings, accel); a fingerprint change is reported and older
nights are not compared with tonight. A regression is a median increase larger than the
profile's compare.noiseThresholdPct AND a one-sided Mann–Whitney p below --alpha against the
pooled measurements of the last --window comparable nights. Change points (binary segmentation,
--min-segment nights each side) are reported for every cell.

Written into tonight's run directory: nightly.json, nightly-junit.xml, history.html.`,
  );
}

type NightlyCommandOptions = OptionsOf<ReturnType<typeof nightlyCommand>>;

/** `nightly`: tonight's run (or --from-run), compared with the history; the exit code is the verdict. */
async function nightlyAction(profilePath: string, opts: NightlyCommandOptions, out: Out, setExit: (code: number) => void): Promise<void> {
  const { loadProfile } = await import('../profile/load.ts');
  const { compareNight } = await import('../nightly/compare.ts');
  const { loadHistory, loadRun } = await import('../nightly/history.ts');
  const loaded = await loadProfile(profilePath);
  const options: NightlyOptions = {
    window: opts.window,
    minBaselineNights: opts.minBaseline,
    alpha: opts.alpha,
    minSegment: opts.minSegment,
    noiseThresholdPct: loaded.profile.compare.noiseThresholdPct,
  };
  const historyDir = resolve(opts.history);
  let tonight: HistoryRun;
  let runError: string | undefined;
  if (opts.fromRun) {
    tonight = await loadRun(resolve(opts.fromRun));
    if (tonight.manifest.profile.name !== loaded.profile.name)
      throw new UsageError(`--from-run ${opts.fromRun}: ran profile "${tonight.manifest.profile.name}", not "${loaded.profile.name}"`);
  } else {
    const made = await runTonight({ loaded, profilePath, opts, historyDir, out });
    runError = made.runError;
    if (!made.tonight.manifest) {
      out.stderr(`vdpa-bench nightly: the run could not be made: ${runError ?? 'no manifest written'}\n`);
      setExit(2);
      return;
    }
    tonight = made.tonight;
  }
  const { runs } = await loadHistory(historyDir);
  const verdict = compareNight(tonight, runs, options);
  const anyData = verdict.cells.some((c) => c.tonight.n > 0);
  if (runError || tonight.manifest.state === 'failed' || !anyData) {
    verdict.exitCode = 2;
    verdict.runError = runError ?? tonight.manifest.stateReason ?? (anyData ? undefined : 'no cell has an ok measured migration');
  }
  await writeNightlyOutputs(
    verdict,
    [...runs.filter((r) => r.manifest.runId !== tonight.manifest.runId), tonight].sort((a, b) => a.manifest.startedAt.localeCompare(b.manifest.startedAt)),
    tonight.dir,
    opts.junit,
  );
  printVerdict(verdict, out);
  out.stdout(tonight.dir + '\n');
  setExit(verdict.exitCode);
}

/**
 * Tonight's run into the history directory. A run that stops is not thrown (the verdict reports it,
 * exit 2) unless the user interrupted it; `tonight.manifest` is null when it wrote none.
 */
async function runTonight({
  loaded,
  profilePath,
  opts,
  historyDir,
  out,
}: {
  loaded: LoadedProfile;
  profilePath: string;
  opts: NightlyCommandOptions;
  historyDir: string;
  out: Out;
}): Promise<{ tonight: HistoryRun; runError?: string }> {
  const { runBenchmark } = await import('../run/run.ts');
  const { RunInterrupted } = await import('../migration/interfaces.ts');
  const { loadRun } = await import('../nightly/history.ts');
  const { ConsoleProgress } = await import('./progress.ts');
  await mkdir(historyDir, { recursive: true });
  const runId = newRunId(loaded.profile.name);
  const interruption = installInterruptHandlers(out.stderr, profilePath);
  let runError: string | undefined;
  try {
    await runBenchmark(loaded, {
      iterations: opts.iterations,
      vmSizes: opts.vmSize,
      variants: opts.variant,
      outDir: historyDir,
      runId,
      progress: new ConsoleProgress(process.stderr, opts.iterations ?? loaded.profile.iterations),
      signal: interruption.signal,
      command: process.argv.slice(1),
    });
  } catch (error) {
    if (error instanceof RunInterrupted) throw error;
    await explainStoppedRun(error, profilePath, undefined);
    runError = (error as Error).message;
  } finally {
    interruption.dispose();
  }
  const tonight = await loadRun(join(historyDir, runId)).catch(() => ({ dir: join(historyDir, runId), manifest: null }) as unknown as HistoryRun);
  return { tonight, runError };
}

function counts(run: HistoryRun) {
  const measured = run.records.filter((r) => !r.warmup);
  return { migrations: run.records.length, measured: measured.length, ok: run.records.filter((r) => r.status === 'ok').length };
}

async function writeNightlyOutputs(verdict: NightlyVerdict, runs: HistoryRun[], runDir: string, junitPath?: string): Promise<void> {
  const { nightlyJunit } = await import('../nightly/junit.ts');
  const { historyReportHtml } = await import('../nightly/report.ts');
  const sameProfile = runs.filter((r) => r.manifest.profile.name === verdict.profile);
  const junit = nightlyJunit(verdict);
  await writeFile(join(runDir, 'nightly.json'), JSON.stringify(verdict, null, 2) + '\n');
  await writeFile(join(runDir, 'nightly-junit.xml'), junit);
  await writeFile(join(runDir, 'history.html'), await historyReportHtml(verdict, sameProfile));
  if (junitPath) await writeFile(junitPath, junit);
}

function printVerdict(v: NightlyVerdict, out: Out): void {
  if (v.fingerprintChange) {
    out.stderr(`lab fingerprint changed since ${v.fingerprintChange.previousRunId} (not compared with nights before the change):\n`);
    for (const c of v.fingerprintChange.changes) out.stderr(`  ${c}\n`);
  }
  for (const c of v.cells) {
    out.stderr(`${c.verdict.toUpperCase().padEnd(12)} ${c.label.padEnd(28)} ${c.reason}\n`);
    for (const p of c.changePoints)
      out.stderr(
        `             change point at ${p.runId}: ${p.beforeMedianMs.toFixed(2)} → ${p.afterMedianMs.toFixed(2)} ms (${p.changePct >= 0 ? '+' : ''}${p.changePct.toFixed(1)}%, p=${p.pValue.toPrecision(3)})\n`,
      );
  }
  if (v.exitCode === 2) out.stderr(`the run could not be made: ${v.runError}\n`);
  out.stderr(v.regression ? 'nightly: REGRESSION\n' : v.exitCode === 2 ? 'nightly: no verdict\n' : 'nightly: no regression\n');
}
