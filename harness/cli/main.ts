/**
 * The vdpa-bench command line. Exit codes: 0 success, 1 a measurement could not be made,
 * 2 bad input (profile, arguments), 130 interrupted.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, CommanderError } from '@commander-js/extra-typings';
import { TOOL_VERSION } from '../version.ts';
import { matrixOptions, type OptionsOf, type Out } from './options.ts';
import { addDowntimeCommand } from './downtime-command.ts';
import { addReportCommands, writeRunReports } from './report-commands.ts';
import { addUnattendedLabCommands, explainStoppedRun, installInterruptHandlers, parseShardOption, resolveRunProfile } from './lab-commands.ts';
import { addSoftlabCommands } from '../softlab/cli.ts';
import { addQemuRootCommands } from './qemu-root-commands.ts';
import { UsageError } from './usage-error.ts';
import { addVerifyCommands } from './verify-commands.ts';

// Everything else loads inside the command that needs it: start-up is paid by every
// `downtime` over a trace and every --help, and zod, execa and the engine cost most of it.

export { UsageError };

export function buildProgram(out: Out, setExit: (code: number) => void): Command {
  const program = new Command('vdpa-bench')
    .description(
      'Live-migration downtime benchmarks for QEMU guests with vhost-vDPA NICs: back-to-back migrations between two hosts, traced on both sides, with guest-visible downtime computed from the traces.',
    )
    .version(TOOL_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: out.stdout, writeErr: out.stderr })
    .exitOverride();
  addRunCommand(program, out, setExit);
  addReportCommands(program, out);
  addPlanCommand(program, out);
  addUnattendedLabCommands(program, out, setExit);
  addValidateCommand(program, out, setExit);
  addDowntimeCommand(program, out, setExit);
  addSoftlabCommands(program, out, setExit);
  addQemuRootCommands(program, out, setExit);
  addLabCommand(program, out);
  addSamplesCommand(program, out, setExit);
  addSchemaCommand(program, out);
  addVerifyCommands(program, out, setExit);
  return program;
}

function addRunCommand(program: Command, out: Out, setExit: (code: number) => void): void {
  runCommand(program).action((profileArg, opts) => runAction(profileArg, opts, out, setExit));
}

/** `run` as declared: its arguments, options and help (the action's option types come from here). */
function runCommand(program: Command) {
  return matrixOptions(
    program
      .command('run')
      .description('Run the benchmark a profile describes and write a results directory (printed as the last line of stdout)')
      .argument('[profile]', 'lab profile (YAML), e.g. profiles/local.yaml (with --resume: default the one the run used)'),
  )
    .option('-o, --out <dir>', 'parent directory of the run directory', 'results')
    .option('--reports <dir>', 'parent directory of the reports written at the end (<dir>/<run-id>/)', 'reports')
    .option('--no-report', 'do not write reports at the end')
    .option('--resume <run-dir>', 'continue an interrupted run: same profile (checked by sha256), same options, completed migrations not repeated')
    .option(
      '--workdir <dir>',
      "where QEMU writes traces, sockets and guest memory on every host (overrides the hosts' workdir; the lab lock lives there too, so give the same one to --resume)",
    )
    .option('--shard <i/n>', 'run only slice i of n of the schedule (whole VM boots, dealt round-robin); combine with `merge`')
    .addHelpText(
      'after',
      `
A run boots the guest on the first host of the profile's pair and migrates it back and forth
(A→B, B→A, ...). Each migration gets a fresh destination QEMU started with -incoming defer, and
each QEMU writes its own trace file; downtime comes from those traces (see 'downtime --help').

Output, in <out>/<run-id>/:
  manifest.json       profile, host facts, QEMU versions, accel used, run state
  iterations.ndjson   one JSON line per migration, written as each one finishes
  argv.ndjson         every process started on every host (QEMU, probes, set-up steps), in order
  traces/             the raw trace files each migration used

One run per lab at a time: each host's workdir holds vdpa-bench.lock while a run goes. Ctrl-C
(or SIGTERM) stops after ending the QEMU processes and marks the run interrupted; a second
Ctrl-C forces. A run killed outright is continued with --resume; \`vdpa-bench cleanup\` ends
what it left on the hosts.

Examples:
  vdpa-bench run profiles/local.yaml
  vdpa-bench run profiles/local.yaml --vm-size 1G --iterations 3 --warmup 0
  vdpa-bench run --resume results/local-20250101-010203-abcd
  vdpa-bench run profiles/lab.yaml --shard 2/4`,
    );
}

type RunOptions = OptionsOf<ReturnType<typeof runCommand>>;

/** `run`: checks what this machine needs, runs the benchmark, reports and prints the run directory. */
async function runAction(profileArg: string | undefined, opts: RunOptions, out: Out, setExit: (code: number) => void): Promise<void> {
  const { loadProfile } = await import('../profile/load.ts');
  const { runBenchmark } = await import('../run/run.ts');
  const { debootstrapNeed, ensureLocalPackages, labBoxNeeds, qemuNeed } = await import('./local-packages.ts');
  const { needsLabBox } = await import('../profile/lab-box-checks.ts');
  const { ConsoleProgress } = await import('./progress.ts');
  const profilePath = await resolveRunProfile(profileArg, opts.resume);
  const loaded = await loadProfile(profilePath);
  if (opts.workdir) for (const host of loaded.profile.hosts) host.workdir = resolve(opts.workdir);
  const shard = opts.shard ? parseShardOption(opts.shard) : undefined;
  if (opts.resume && (opts.iterations !== undefined || opts.warmup !== undefined || opts.vmSize || opts.variant || shard)) {
    throw new UsageError('--resume repeats the options the run started with (from its manifest): drop -n/--warmup/--vm-size/--variant/--shard');
  }
  // what this machine needs for a local run: installed when missing (as root) or named
  const usesLocal = loaded.profile.hosts.some((h) => h.transport.kind !== 'ssh');
  const binaries = new Set(usesLocal ? loaded.profile.variants.filter((v) => v.qemu.binary && !v.qemu.chroot).map((v) => v.qemu.binary!) : []);
  const labBox = needsLabBox(loaded.profile);
  if (loaded.profile.network && process.getuid?.() !== 0)
    throw new UsageError(`${profilePath}: the lab in a box creates network namespaces, taps and bridges: run it as root (sudo npx vdpa-bench run ...)`);
  const debianQemu = binaries.has('qemu-system-x86_64') ? [qemuNeed('qemu-system-x86_64')] : [];
  const suiteRoots = usesLocal && loaded.profile.variants.some((v) => v.qemu.debian) ? [debootstrapNeed] : [];
  const problem = await ensureLocalPackages([...debianQemu, ...suiteRoots, ...(labBox ? labBoxNeeds : [])], (l) => out.stderr(l + '\n'), { aptLists: labBox });
  if (problem) throw new UsageError(problem);
  for (const binary of binaries) {
    if (binary !== 'qemu-system-x86_64' && !(await qemuNeed(binary).present()))
      throw new UsageError(`QEMU binary "${binary}" was not found or does not run: check the variant's qemu.binary`);
  }
  const interruption = installInterruptHandlers(out.stderr, profilePath);
  const progress = new ConsoleProgress(process.stderr, opts.iterations ?? loaded.profile.iterations);
  try {
    const outcome = await runBenchmark(loaded, {
      iterations: opts.iterations,
      warmup: opts.warmup,
      vmSizes: opts.vmSize,
      variants: opts.variant,
      outDir: opts.out,
      progress,
      signal: interruption.signal,
      command: process.argv.slice(1),
      resumeDir: opts.resume,
      shard,
    });
    const counts = { ok: 0, failed: 0, invalid: 0 };
    for (const r of outcome.records) counts[r.status]++;
    out.stderr(`${outcome.records.length} migrations: ${counts.ok} ok, ${counts.failed} failed, ${counts.invalid} invalid\n`);
    if (opts.report) await writeRunReports(outcome.dir, opts.reports, out);
    out.stdout(outcome.dir + '\n');
    if (counts.ok === 0) setExit(1);
  } catch (error) {
    await explainStoppedRun(error, profilePath, opts.workdir);
    throw error;
  } finally {
    interruption.dispose();
  }
}

function addPlanCommand(program: Command, out: Out): void {
  matrixOptions(
    program
      .command('plan')
      .description('Print, per host and in order, every command a run of the profile would execute, without executing anything')
      .argument('<profile>', 'lab profile (YAML), e.g. profiles/cx6dx-lab.yaml'),
  )
    .addHelpText(
      'after',
      `
Sections: per host preflight (read-only checks), set-up steps (check, then apply when not in
place), QEMU builds, verification, host facts; then every migration (QEMU command lines, QMP
commands); then teardown (undo of what set-up applied). Review it before a run touches a lab.`,
    )
    .action(async (profilePath, opts) => {
      const { loadProfile } = await import('../profile/load.ts');
      const { planRun } = await import('../plan/plan.ts');
      const loaded = await loadProfile(profilePath);
      try {
        out.stdout(await planRun(loaded, { iterations: opts.iterations, warmup: opts.warmup, vmSizes: opts.vmSize, variants: opts.variant }));
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
    });
}

function addValidateCommand(program: Command, out: Out, setExit: (code: number) => void): void {
  program
    .command('validate')
    .description('Check profiles against the schema; problems print as <file>:<line>:<col> <key>: <message>')
    .argument('<profiles...>', 'profile files')
    .action(async (files) => {
      const { loadProfile, ProfileError } = await import('../profile/load.ts');
      let bad = false;
      for (const file of files) {
        try {
          await loadProfile(file);
          out.stdout(`${file}: ok\n`);
        } catch (error) {
          if (!(error instanceof ProfileError)) throw error;
          bad = true;
          out.stderr(error.message + '\n');
        }
      }
      if (bad) setExit(2);
    });
}

function addLabCommand(program: Command, out: Out): void {
  program
    .command('lab')
    .description('Lab-in-a-box housekeeping')
    .command('cleanup')
    .description('Remove network namespaces (and processes in them) left by runs whose harness process died')
    .action(async () => {
      const { cleanupLeftovers } = await import('../labbox/netns.ts');
      const report = await cleanupLeftovers();
      for (const ns of report.removed) out.stdout(`removed ${ns}\n`);
      for (const s of report.skipped) out.stdout(`kept ${s.token}: ${s.reason}\n`);
      if (report.removed.length === 0) out.stdout('nothing to remove\n');
    });
}

function addSamplesCommand(program: Command, out: Out, setExit: (code: number) => void): void {
  program
    .command('samples')
    .description('From a pilot run (or several), how many migrations per variant detect a given change of the median downtime')
    .argument('<run-dirs...>', 'results directories of pilot runs (their measured, usable migrations are pooled per cell)')
    .option('--change <pct>', 'relative change of the median to detect', '10%')
    .option('--power <p>', 'probability of detecting it', '0.8')
    .option('--alpha <a>', 'two-sided significance level', '0.05')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Uses each cell's pilot median and robust spread (1.4826 × MAD) in the normal approximation
n = 2 (z(1-alpha/2) + z(power))^2 sigma^2 / delta^2, divided by 3/pi for the rank test reports use.

Example:
  vdpa-bench samples results/local-20261126-030518-632e --change 10% --power 0.8`,
    )
    .action(async (dirs, opts) => {
      const { samplesFromRuns } = await import('../sampling/cli.ts');
      const power = Number(opts.power);
      const alpha = Number(opts.alpha);
      if (!(power > 0 && power < 1)) throw new UsageError(`--power ${opts.power}: expected a probability such as 0.8`);
      if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha ${opts.alpha}: expected a probability such as 0.05`);
      const result = await samplesFromRuns(dirs, opts.change, power, alpha).catch((error: Error) => {
        throw new UsageError(error.message);
      });
      out.stdout(opts.json ? JSON.stringify(result.rows) + '\n' : result.text);
      if (result.rows.every((r) => r.estimate === null)) setExit(1);
    });
}

function addSchemaCommand(program: Command, out: Out): void {
  program
    .command('schema')
    .description('Print (or write) the JSON Schema of profiles, for editors (yaml-language-server)')
    .option('-o, --out <file>', 'write to this file instead of stdout')
    .action(async (opts) => {
      const { profileJsonSchema } = await import('../profile/json-schema.ts');
      const text = JSON.stringify(profileJsonSchema(), null, 2) + '\n';
      if (opts.out) await writeFile(opts.out, text);
      else out.stdout(text);
    });
}

/**
 * stdout as the commands write it. A reader that goes away (`vdpa-bench bundle --help | head -1`)
 * is no error of ours: once the pipe is closed, further output is dropped and the command ends as
 * it would have (a run still stops its QEMUs and writes its records), instead of dying on EPIPE.
 */
function stdoutWriter(): (text: string) => void {
  let readerGone = false;
  if (!process.stdout.listeners('error').some((l) => l.name === 'dropAfterEpipe'))
    process.stdout.on('error', function dropAfterEpipe(error: NodeJS.ErrnoException) {
      if (error.code !== 'EPIPE') throw error;
      readerGone = true;
    });
  return (text) => {
    if (!readerGone && !process.stdout.destroyed) process.stdout.write(text);
  };
}

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const out = { stdout: stdoutWriter(), stderr: (s: string) => process.stderr.write(s) };
  const program = buildProgram(out, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof UsageError) {
      out.stderr(`vdpa-bench: ${error.message}\n`);
      return 2;
    }
    // the modules an error class lives in are loaded by now if one of them threw it
    const [{ ProfileError }, { LabBusyError }, { ResumeError }, { RunDataError }, { CrossRunError }, { RunInterrupted }] = await Promise.all([
      import('../profile/load.ts'),
      import('../run/ownership.ts'),
      import('../run/resume.ts'),
      import('../report/load.ts'),
      import('../report/model/compare-runs.ts'),
      import('../migration/interfaces.ts'),
    ]);
    if (error instanceof ProfileError) {
      out.stderr(error.message + '\n');
      return 2;
    }
    if (error instanceof LabBusyError || error instanceof ResumeError) {
      out.stderr(`vdpa-bench: ${error.message}\n`);
      return 2;
    }
    if (error instanceof RunDataError || error instanceof CrossRunError) {
      out.stderr(`vdpa-bench: ${error.message}\n`);
      return 2;
    }
    if (error instanceof RunInterrupted) {
      out.stderr('vdpa-bench: interrupted; completed migrations are in the run directory\n');
      return 130;
    }
    out.stderr(`vdpa-bench: error: ${(error as Error).message}\n`);
    if (process.env.VDPA_BENCH_DEBUG) out.stderr(`${(error as Error).stack}\n`);
    return 1;
  }
}
