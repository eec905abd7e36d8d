/**
 * `run`: from a loaded profile to a finished results directory. Host preparation, facts and the
 * manifest live here; the migrations themselves are the engine's.
 */
import { TOOL_VERSION } from '../version.ts';
import { REPO_ROOT } from '../root.ts';
import { execa } from 'execa';
import { join } from 'node:path';
import { exchangeClock, type ClockEstimator } from '../hosts/clock.ts';
import { availableTraceEvents, gatherHostFacts, qemuTraceEvents, qemuVersion } from '../hosts/facts.ts';
import { openTransport } from '../hosts/open.ts';
import { HostUnreachableError, type HostTransport } from '../hosts/transport.ts';
import { eventsNeeded } from '../metrics/rules.ts';
import type { MetricRule, Profile } from '../profile/schema.ts';
import { BUILTIN_METRICS } from '../profile/metric-rules.ts';
import { metricNames, matrixVariants, pairHosts, type LoadedProfile } from '../profile/load.ts';
import { parseSize } from '../profile/size.ts';
import { newRunId, RunStore } from '../results/store.ts';
import { acquireLock, cleanLeftovers, describeCleanup, ownerRecord, releaseLock, writeOwnerRecord } from './ownership.ts';
import { checkScheduleMatches, loadResumeState, type AbandonedCell, type ResumeState } from './resume.ts';
import { formatShard, shardBlocks, type Shard } from './shard.ts';
import type { HostFacts, IterationRecord, RunManifest, VariantFacts } from '../results/types.ts';
import { needsLab, prepareLab, type PreparedLab } from '../lab/prepare.ts';
import { prepareLabBox, type PreparedLabBox } from '../labbox/prepare.ts';
import { needsLabBox } from '../profile/lab-box-checks.ts';
import { AdaptiveSampler, fixedSamplingManifest } from '../sampling/adaptive.ts';
import { describeDesign } from '../sampling/design.ts';
import { runSchedule } from '../migration/engine.ts';
import { RunInterrupted, type EngineHost, type MigrationHooks, type ProgressSink } from '../migration/interfaces.ts';
import { qemuInvocation } from '../qemu/command.ts';
import { labHooks } from '../migration/lab-hooks.ts';
import { buildSchedule, type Block } from '../migration/schedule.ts';

export interface RunOptions {
  iterations?: number;
  warmup?: number;
  vmSizes?: string[];
  variants?: string[];
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

export { TOOL_VERSION };

/** Applies command-line narrowing to the profile, with errors that name what exists. */
export function selectMatrix(profile: Profile, options: Pick<RunOptions, 'iterations' | 'warmup' | 'vmSizes' | 'variants'>) {
  const variants = options.variants?.length ? options.variants : matrixVariants(profile);
  const known = profile.variants.map((v) => v.name);
  for (const v of variants) if (!known.includes(v)) throw new Error(`--variant ${v}: no such variant (profile has: ${known.join(', ')})`);
  const vmSizes = options.vmSizes?.length ? options.vmSizes : profile.matrix.vmSizes;
  for (const s of vmSizes) parseSize(s);
  return {
    variants,
    vmSizes,
    queuePairs: profile.matrix.queuePairs,
    // a precision target runs each cell up to its maximum; the engine stops it earlier
    iterations: options.iterations ?? profile.precision?.maxIterations ?? profile.iterations,
    warmup: options.warmup ?? profile.warmup,
  };
}

export function scheduleFor(profile: Profile, selection: ReturnType<typeof selectMatrix>): Block[] {
  return buildSchedule({ ...selection, order: profile.design.order, blockSize: profile.design.blockSize, seed: profile.design.seed });
}

export function metricSetup(profile: Profile) {
  const names = metricNames(profile);
  const rules: Record<string, MetricRule> = { ...(BUILTIN_METRICS as Record<string, MetricRule>), ...profile.metrics.rules };
  const traceEvents = [...new Set([...profile.trace.events, ...eventsNeeded(names.map((n) => rules[n]))])];
  return { names, rules, traceEvents, primary: profile.metrics.primary };
}

async function gitCommit(): Promise<string | null> {
  const result = await execa('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT.pathname, reject: false });
  return result.exitCode === 0 ? String(result.stdout).trim() : null;
}

export function chooseAccel(requested: Profile['vm']['accel'], facts: HostFacts[]): { used: 'kvm' | 'tcg'; reason: string } {
  if (requested === 'kvm') return { used: 'kvm', reason: 'the profile asks for kvm' };
  if (requested === 'tcg') return { used: 'tcg', reason: 'the profile asks for tcg' };
  const blocked = facts.find((f) => !f.kvm?.usable);
  if (blocked) return { used: 'tcg', reason: `auto: ${blocked.name}: ${blocked.kvm?.reason ?? 'KVM unknown'}` };
  return { used: 'kvm', reason: 'auto: /dev/kvm usable on every host' };
}

export async function runBenchmark(loaded: LoadedProfile, options: RunOptions): Promise<RunOutcome> {
  selectMatrix(loaded.profile, options); // bad narrowing fails before anything is built
  const resume: ResumeState | undefined = options.resumeDir ? await loadResumeState(options.resumeDir, loaded) : undefined;
  const runId = resume?.manifest.runId ?? options.runId ?? newRunId(loaded.profile.name);
  const store = resume ? await RunStore.open(options.resumeDir!) : await RunStore.create(options.outDir, runId);
  if (resume?.repairedTornLine) options.progress.note('the last line of iterations.ndjson was torn (crash mid-write): moved to iterations.torn');
  // the lab in a box (built guest, namespaced hosts) rewrites hosts and guest for this run only
  const box = needsLabBox(loaded.profile) ? await prepareLabBox(loaded.profile, store.dir, (m) => options.progress.note(m)) : undefined;
  try {
    return await runOnHosts(loaded, box?.profile ?? loaded.profile, options, store, runId, box, resume);
  } finally {
    await box?.close();
  }
}

async function runOnHosts(
  loaded: LoadedProfile,
  profile: Profile,
  options: RunOptions,
  store: RunStore,
  runId: string,
  box: PreparedLabBox | undefined,
  resume: ResumeState | undefined,
): Promise<RunOutcome> {
  const selection = resume ? selectionFromManifest(resume.manifest) : selectMatrix(profile, options);
  const shard = resume ? resume.shard : options.shard;
  const fullSchedule = scheduleFor(profile, selection);
  const blocks = shard ? shardBlocks(fullSchedule, shard) : fullSchedule;
  if (resume) checkScheduleMatches(blocks, resume);
  const metrics = metricSetup(profile);

  const [nameA, nameB] = pairHosts(profile);
  const transports = new Map<string, HostTransport>();
  for (const host of profile.hosts) if (host.name === nameA || host.name === nameB) transports.set(host.name, openTransport(host));
  const engineHost = (name: string): EngineHost => {
    const host = profile.hosts.find((h) => h.name === name)!;
    return { name, transport: transports.get(name)!, runDir: join(host.workdir, runId), migrationAddress: host.migrationAddress };
  };
  const hosts: [EngineHost, EngineHost] = [engineHost(nameA), engineHost(nameB)];
  const workdirOf = (name: string) => profile.hosts.find((h) => h.name === name)!.workdir;

  const startedAt = new Date().toISOString();
  let lab: PreparedLab | undefined;
  const owner = ownerRecord(runId, options.command);
  const locks: { host: EngineHost; content: string }[] = [];
  let manifest: RunManifest | undefined;
  try {
    // the lock comes first: nothing on a host is touched while another run owns the lab
    for (const host of hosts) {
      const content = await acquireLock(host.transport, workdirOf(host.name), owner, { resumeRunId: resume?.manifest.runId, note: (m) => options.progress.note(m), profilePath: loaded.file });
      locks.push({ host, content });
    }
    for (const host of hosts) {
      for (const report of await cleanLeftovers(host.transport, workdirOf(host.name), { resumeRunId: resume?.manifest.runId })) {
        if (report.killed.length > 0 || report.removed || report.skipped) options.progress.note(describeCleanup(report));
      }
      await writeOwnerRecord(host.transport, host.runDir, owner);
    }
    if (needsLab(profile, selection)) {
      lab = await prepareLab(profile, loaded.file, transports, selection, metrics, [nameA, nameB], (line) => options.progress.note(line));
    }
    const facts = await Promise.all([...transports.values()].map(gatherHostFacts));
    const binaries = new Map<string, string>();
    const traceEvents = new Map<string, string[]>();
    const variantFacts: VariantFacts[] = [];
    for (const name of selection.variants) {
      const variant = profile.variants.find((v) => v.name === name)!;
      const binary = lab?.binaries.get(name) ?? variant.qemu.binary ?? 'qemu-system-x86_64';
      binaries.set(name, binary);
      const qemuVersions: Record<string, string> = {};
      const wanted = lab?.traceEvents ?? metrics.traceEvents;
      const enabled = new Set(wanted);
      const missing = new Set<string>();
      for (const [hostName, transport] of transports) {
        const invocation = qemuInvocation(variant, binary);
        qemuVersions[hostName] = await qemuVersion(transport, invocation);
        const known = availableTraceEvents(wanted, await qemuTraceEvents(transport, invocation));
        for (const m of known.missing) {
          enabled.delete(m);
          missing.add(m);
        }
      }
      traceEvents.set(name, [...enabled]);
      variantFacts.push({
        name,
        binary,
        qemuVersion: qemuVersions,
        capabilities: variant.capabilities,
        parameters: variant.parameters,
        extraArgs: variant.extraArgs,
        traceEvents: [...enabled],
        traceEventsMissing: [...missing],
      });
      if (missing.size > 0) options.progress.note(`${name}: QEMU cannot trace ${[...missing].join(', ')}; metrics that need them will say so`);
    }
    const accel = chooseAccel(profile.vm.accel, facts);
    if (resume) {
      manifest = resume.manifest;
      checkLabUnchanged(manifest, facts, variantFacts, accel.used);
      manifest.state = 'running';
      manifest.finishedAt = null;
      delete manifest.stateReason;
      const resumes = (manifest.resumes as unknown[] | undefined) ?? [];
      manifest.resumes = [...resumes, { at: startedAt, command: options.command ?? [], alreadyRecorded: resume.done.size }];
    } else manifest = {
      runId,
      tool: { name: 'vdpa-bench', version: TOOL_VERSION, gitCommit: await gitCommit() },
      profile: { path: loaded.file, name: profile.name, sha256: loaded.sha256, text: loaded.text },
      startedAt,
      finishedAt: null,
      state: 'running',
      command: options.command ?? [],
      options: {
        iterations: selection.iterations,
        warmup: selection.warmup,
        vmSizes: selection.vmSizes,
        variants: selection.variants,
        queuePairs: selection.queuePairs,
        design: profile.design.order,
        seed: profile.design.seed,
        ...(shard ? { shard: formatShard(shard) } : {}),
      },
      design: describeDesign(profile.design.order, profile.design.seed, profile.design.blockSize, selection.variants),
      accel: { requested: profile.vm.accel, used: accel.used, reason: accel.reason },
      hosts: facts,
      variants: variantFacts,
      metrics: { primary: metrics.primary, names: [...metrics.names, ...(box?.metricNames ?? [])] },
      setup: { ...nicSetup(profile, selection.queuePairs), queuePairs: selection.queuePairs },
      pair: [nameA, nameB],
      schedule: { blocks: blocks.length, migrations: blocks.reduce((n, b) => n + b.migrations.length, 0) },
      ...(lab ? { lab: lab.manifest } : {}),
      abandonedCells: [],
      ...(box ? { labBox: box.facts } : {}),
    };
    const current = manifest;
    await store.writeManifest(current);
    let records: IterationRecord[] = [];
    const sampler = profile.precision && options.iterations === undefined ? new AdaptiveSampler(profile.precision) : undefined;
    // a resumed run's cells continue from what they had measured
    for (const record of resume?.records ?? []) sampler?.recorded(record);
    try {
      records = await runSchedule(blocks, {
        sampling: sampler,
        profile,
        store,
        hosts,
        accel: accel.used,
        binaries,
        traceEvents,
        metrics,
        hooks: [...(lab?.hooks ?? []), ...(box?.hooks ?? []), ...(options.hooks ?? []), ...labHooks(profile, [nameA, nameB], (m) => options.progress.note(m), metrics.names)],
        clock: options.clock ?? exchangeClock(),
        progress: options.progress,
        signal: options.signal,
        done: resume?.done,
        failureStreaks: resume?.failureStreaks,
        abandonedCells: resume?.abandonedCells,
        onCellAbandoned: async (cell, reason, afterSeq) => {
          const entry: AbandonedCell = { cell, reason, afterSeq, at: new Date().toISOString() };
          current.abandonedCells = [...((current.abandonedCells as AbandonedCell[] | undefined) ?? []), entry];
          await store.writeManifest(current);
        },
      });
      current.state = 'completed';
    } catch (error) {
      current.state = error instanceof RunInterrupted ? 'interrupted' : 'failed';
      current.stateReason = (error as Error).message;
      if (error instanceof HostUnreachableError) error.runDir = store.dir;
      throw error;
    } finally {
      current.sampling = sampler ? sampler.manifest(current.state === 'completed' ? 'block-abandoned' : 'interrupted') : fixedSamplingManifest([...(resume?.records ?? []), ...records]);
      current.finishedAt = new Date().toISOString();
      await store.writeManifest(current);
      await store.close();
    }
    return { dir: store.dir, manifest: current, records: resume ? [...resume.records, ...records] : records };
  } catch (error) {
    // a run that stopped before its schedule started still leaves a manifest that says why
    if (!manifest && !resume) {
      await store
        .writeManifest({
          runId,
          tool: { name: 'vdpa-bench', version: TOOL_VERSION, gitCommit: null },
          profile: { path: loaded.file, name: profile.name, sha256: loaded.sha256, text: loaded.text },
          startedAt,
          finishedAt: new Date().toISOString(),
          state: error instanceof RunInterrupted ? 'interrupted' : 'failed',
          stateReason: (error as Error).message,
          command: options.command ?? [],
          options: { iterations: selection.iterations, warmup: selection.warmup, vmSizes: selection.vmSizes, variants: selection.variants, queuePairs: selection.queuePairs, design: profile.design.order, seed: profile.design.seed, ...(shard ? { shard: formatShard(shard) } : {}) },
          accel: { requested: profile.vm.accel, used: 'none', reason: 'the run did not start' },
          hosts: [],
          variants: [],
          metrics: { primary: metrics.primary, names: metrics.names },
        })
        .catch(() => undefined);
    }
    throw error;
  } finally {
    const leftovers = await lab?.teardown().catch((error: Error) => [error.message]);
    if (leftovers?.length) options.progress.note(`teardown could not undo: ${leftovers.join('; ')}`);
    if (locks.length > 0) {
      await Promise.allSettled(hosts.map((h) => collectHostLogs(h, store.dir)));
      await Promise.allSettled([...hosts.map((h) => h.transport.run(['rm', '-rf', '--', h.runDir], { allowFailure: true }))]);
    }
    await Promise.allSettled(locks.map((l) => releaseLock(l.host.transport, workdirOf(l.host.name), l.content)));
    await Promise.allSettled([...transports.values()].map((t) => t.close()));
  }
}

/** The narrowing a run was started with, as its manifest recorded it (resume repeats it exactly). */
export function selectionFromManifest(manifest: RunManifest): ReturnType<typeof selectMatrix> {
  const o = manifest.options;
  return { variants: o.variants, vmSizes: o.vmSizes, queuePairs: o.queuePairs, iterations: o.iterations, warmup: o.warmup };
}

/** A resumed run must measure the same lab: kernel, CPU, QEMU builds and accel as it started with. */
function checkLabUnchanged(manifest: RunManifest, facts: HostFacts[], variants: VariantFacts[], accel: string): void {
  const changes: string[] = [];
  for (const f of facts) {
    const before = manifest.hosts.find((h) => h.name === f.name);
    if (!before) continue;
    for (const key of ['kernel', 'cpuModel'] as const) if (before[key] !== f[key]) changes.push(`${f.name} ${key}: ${before[key]} → ${f[key]}`);
  }
  for (const v of variants) {
    const before = manifest.variants.find((x) => x.name === v.name);
    for (const [host, version] of Object.entries(v.qemuVersion)) if (before && before.qemuVersion[host] !== version) changes.push(`${v.name} QEMU on ${host}: ${before.qemuVersion[host]} → ${version}`);
  }
  if (manifest.accel.used !== accel) changes.push(`accel: ${manifest.accel.used} → ${accel}`);
  if (changes.length > 0) throw new Error(`cannot resume run ${manifest.runId}: the lab changed since it started (${changes.join('; ')}); start a new run`);
}

/** QEMU's console and stderr files come home with the run before the host directory goes. */
async function collectHostLogs(host: EngineHost, runDir: string): Promise<void> {
  const listing = await host.transport.run(['find', host.runDir, '-type', 'f', '(', '-path', '*/console/*', '-o', '-path', '*/stderr/*', ')'], { allowFailure: true });
  for (const path of listing.stdout.split('\n').filter(Boolean)) {
    const relative = path.slice(host.runDir.length + 1);
    await host.transport.fetchFile(path, join(runDir, relative)).catch(() => undefined);
  }
}

/** The NIC and its datapath in the words of the report's set-up sentence (a vDPA lab's own facts may say more). */
function nicSetup(profile: Profile, queuePairs: readonly (number | null)[]): { nic?: string; mode?: string } {
  const nic = profile.vm.nic;
  if (nic.kind === 'tap') return { nic: 'virtio-net-pci', mode: 'on a tap, QEMU userspace datapath' };
  if (nic.kind === 'none' && queuePairs.every((q) => q === null)) return { nic: 'no NIC' };
  return {};
}
