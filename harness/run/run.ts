/**
 * `run`: from a loaded profile to a finished results directory, in named steps: choose what to
 * measure, claim and prepare the lab (a LabSession), look at the hosts and QEMU builds, write the
 * manifest, measure (the engine), and leave the lab as it was. The migrations themselves are the
 * engine's.
 */
import { exchangeClock, type ClockEstimator } from '../hosts/clock.ts';
import { gatherHostFacts } from '../hosts/facts.ts';
import { recordingTransport } from '../hosts/recording.ts';
import { HostUnreachableError, type HostTransport } from '../hosts/transport.ts';
import { prepareLabBox, type PreparedLabBox } from '../labbox/prepare.ts';
import { runSchedule } from '../migration/engine.ts';
import { RunInterrupted, throwIfAborted, type AccelSwitch, type MigrationHooks, type ProgressSink } from '../migration/interfaces.ts';
import type { Block } from '../migration/schedule.ts';
import { needsLabBox } from '../profile/lab-box-checks.ts';
import type { LoadedProfile } from '../profile/load.ts';
import type { Profile } from '../profile/schema.ts';
import { tracedOrPlainQemu } from '../qemu/traced.ts';
import { newRunId, RunStore } from '../results/store.ts';
import type { IterationRecord, RunManifest } from '../results/types.ts';
import { AdaptiveSampler, fixedSamplingManifest } from '../sampling/adaptive.ts';
import { notStartedManifest, resumedManifest, startedManifest, type LabFacts, type RunBasics } from './manifest.ts';
import { chooseAccel, probeAccel, resumedAccel } from './accel.ts';
import { ownerRecord } from './ownership.ts';
import { runHooks } from './hooks.ts';
import { checkScheduleMatches, loadResumeState, type AbandonedCell, type ResumeState } from './resume.ts';
import { metricSetup, scheduleFor, selectionFromManifest, selectMatrix, type MatrixNarrowing } from './selection.ts';
import { LabSession } from './session.ts';
import { shardBlocks, type Shard } from './shard.ts';
import { inspectVariants, type RunVariants } from './variants.ts';

export interface RunOptions extends MatrixNarrowing {
  outDir: string;
  runId?: string;
  progress: ProgressSink;
  signal?: AbortSignal;
  clock?: ClockEstimator;
  command?: string[];
  /** Continue the interrupted run in this directory (its options win over the ones above). */
  resumeDir?: string;
  /** Run only this slice of the schedule (by block). */
  shard?: Shard;
  hooks?: readonly MigrationHooks[];
}

export interface RunOutcome {
  dir: string;
  manifest: RunManifest;
  records: IterationRecord[];
}

/** One run in progress: what it measures, where it writes, what it continues. */
interface RunContext extends RunBasics {
  options: RunOptions;
  store: RunStore;
  blocks: Block[];
  box: PreparedLabBox | undefined;
  resume: ResumeState | undefined;
  note: (message: string) => void;
}

export async function runBenchmark(loaded: LoadedProfile, options: RunOptions): Promise<RunOutcome> {
  selectMatrix(loaded.profile, options); // bad narrowing fails before anything is built
  const resume: ResumeState | undefined = options.resumeDir ? await loadResumeState(options.resumeDir, loaded) : undefined;
  const runId = resume?.manifest.runId ?? options.runId ?? newRunId(loaded.profile.name);
  const store = resume ? await RunStore.open(options.resumeDir!) : await RunStore.create(options.outDir, runId);
  if (resume?.repairedTornLine) options.progress.note('the last line of iterations.ndjson was torn (crash mid-write): moved to iterations.torn');
  // every process the run starts on a host goes into argv.ndjson
  const track = (transport: HostTransport) => recordingTransport(transport, (command) => store.recordStarted(command));
  try {
    // the lab in a box (built guest, namespaced hosts) rewrites hosts and guest for this run only
    const box = needsLabBox(loaded.profile)
      ? await prepareLabBox(loaded.profile, { runDir: store.dir, note: (m) => options.progress.note(m), track }).catch((error: unknown) => {
          // a guest build or namespace command the terminal's Ctrl-C ended: the run was interrupted
          throw options.signal?.aborted ? new RunInterrupted() : error;
        })
      : undefined;
    try {
      return await runOnHosts(planRun(loaded, box?.profile ?? loaded.profile, options, { runId, store, box, resume }), track);
    } finally {
      await box?.close();
    }
  } finally {
    // what the lab's teardown started too; the engine closed the store's records already
    await store.close();
  }
}

/** What the run measures: the selection (a resumed run's own), its slice of the schedule, its metrics. */
function planRun(loaded: LoadedProfile, profile: Profile, options: RunOptions, run: Pick<RunContext, 'runId' | 'store' | 'box' | 'resume'>): RunContext {
  const { resume } = run;
  const selection = resume ? selectionFromManifest(resume.manifest) : selectMatrix(profile, options);
  const shard = resume ? resume.shard : options.shard;
  const fullSchedule = scheduleFor(profile, selection);
  const blocks = shard ? shardBlocks(fullSchedule, shard) : fullSchedule;
  if (resume) checkScheduleMatches(blocks, resume);
  const note = (message: string) => options.progress.note(message);
  return {
    ...run,
    loaded,
    profile,
    options,
    selection,
    shard,
    blocks,
    metrics: metricSetup(profile),
    startedAt: new Date().toISOString(),
    command: options.command ?? [],
    note,
  };
}

async function runOnHosts(run: RunContext, track: (transport: HostTransport) => HostTransport): Promise<RunOutcome> {
  const session = new LabSession(run.profile, run.runId, track, run.options.signal);
  let manifest: RunManifest | undefined;
  try {
    const { signal } = run.options;
    await session.claim(ownerRecord(run.runId, run.options.command), { resumeRunId: run.resume?.manifest.runId, profilePath: run.loaded.file, note: run.note });
    throwIfAborted(signal);
    const lab = await session.prepareLab(run.loaded.file, run.selection, run.metrics, run.note);
    throwIfAborted(signal);
    const hostFacts = await Promise.all([...session.transports.values()].map(gatherHostFacts));
    throwIfAborted(signal);
    const variants = await inspectVariants(
      { profile: run.profile, variantNames: run.selection.variants, wantedEvents: lab?.traceEvents ?? run.metrics.traceEvents },
      session.transports,
      lab,
      run.note,
    );
    const chosen = chooseAccel(run.profile.vm.accel, await probeAccel(run.profile, variants.invocations, session.transports));
    const accel = run.resume ? resumedAccel(run.resume.manifest, chosen) : chosen;
    run.note(`accelerator: ${accel.used} (${accel.reason})`);
    const labFacts: LabFacts = {
      hosts: hostFacts,
      variants: variants.facts,
      accel,
      pair: session.pair,
      blocks: run.blocks,
      lab,
      box: run.box,
    };
    manifest = run.resume ? resumedManifest(run.resume.manifest, labFacts, run, run.resume.done.size) : await startedManifest(run, labFacts);
    // runs taken over (a resumed run keeps the ones it recorded before) and the site set-up
    const facts = session.manifestFacts();
    if (facts.recovered) facts.recovered = [...(manifest.recovered ?? []), ...facts.recovered];
    Object.assign(manifest, facts);
    await run.store.writeManifest(manifest);
    return await measure(run, session, manifest, { variants, accel: labFacts.accel.used });
  } catch (thrown) {
    // a build the terminal's Ctrl-C ended (it runs in the foreground) fails because the run is interrupted
    const error = run.options.signal?.aborted && !manifest ? new RunInterrupted() : thrown;
    // a run that stopped before its schedule started still leaves a manifest that says why
    if (!manifest && !run.resume) await run.store.writeManifest({ ...notStartedManifest(run, error), ...session.manifestFacts() }).catch(() => undefined);
    throw error;
  } finally {
    await session.close(run.store.dir, run.note);
  }
}

/** What the lab turned out to run: the variants' binaries and trace events, and the accelerator QEMU used. */
interface MeasuredLab {
  variants: RunVariants;
  accel: 'kvm' | 'tcg';
}

/** The schedule through the engine; the manifest records how it ended and why each cell stopped. */
async function measure(run: RunContext, session: LabSession, manifest: RunManifest, { variants, accel }: MeasuredLab): Promise<RunOutcome> {
  const { profile, options, store, resume } = run;
  let records: IterationRecord[] = [];
  const sampler = profile.precision && options.iterations === undefined ? new AdaptiveSampler(profile.precision) : undefined;
  // a resumed run's cells continue from what they had measured
  for (const record of resume?.records ?? []) sampler?.recorded(record);
  try {
    records = await runSchedule(run.blocks, {
      sampling: sampler,
      profile,
      store,
      hosts: session.hosts,
      accel,
      binaries: variants.binaries,
      qemu: tracedOrPlainQemu,
      traceEvents: variants.traceEvents,
      metrics: run.metrics,
      hooks: runHooks({
        profile,
        pair: session.pair,
        metricNames: run.metrics.names,
        note: run.note,
        lab: session.lab?.hooks,
        labWaits: session.lab?.waits,
        box: run.box?.hooks,
        extra: options.hooks,
      }),
      kvmFallback: profile.vm.accel === 'auto' ? { switched: (event) => recordAccelSwitch(manifest, event, store) } : undefined,
      clock: options.clock ?? exchangeClock(),
      progress: options.progress,
      signal: options.signal,
      done: resume?.done,
      failureStreaks: resume?.failureStreaks,
      abandonedCells: resume?.abandonedCells,
      onCellAbandoned: async (cell, reason, afterSeq) => {
        const entry: AbandonedCell = { cell, reason, afterSeq, at: new Date().toISOString() };
        manifest.abandonedCells = [...((manifest.abandonedCells as AbandonedCell[] | undefined) ?? []), entry];
        await store.writeManifest(manifest);
      },
    });
    manifest.state = 'completed';
  } catch (error) {
    manifest.state = error instanceof RunInterrupted ? 'interrupted' : 'failed';
    manifest.stateReason = (error as Error).message;
    if (error instanceof HostUnreachableError) error.runDir = store.dir;
    throw error;
  } finally {
    manifest.sampling = sampler
      ? sampler.manifest(manifest.state === 'completed' ? 'block-abandoned' : 'interrupted')
      : fixedSamplingManifest([...(resume?.records ?? []), ...records]);
    manifest.finishedAt = new Date().toISOString();
    await store.writeManifest(manifest);
    await store.close();
  }
  return { dir: store.dir, manifest, records: resume ? [...resume.records, ...records] : records };
}

/** The run's first boot failed with KVM and the run went on under TCG: the manifest says so from now on. */
async function recordAccelSwitch(manifest: RunManifest, event: AccelSwitch, store: RunStore): Promise<void> {
  const probed = manifest.accel.reason;
  manifest.accel = {
    ...manifest.accel,
    used: 'tcg',
    reason: `auto: QEMU failed to start with KVM at the run's first boot on ${event.host} (${event.reason}), so the run switched to TCG; the probe had said: ${probed}`,
    fallback: { at: new Date().toISOString(), ...event },
  };
  await store.writeManifest(manifest);
}
