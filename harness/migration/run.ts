/**
 * `run`: from a loaded profile to a finished results directory. Host preparation, facts and the
 * manifest live here; the migrations themselves are the engine's.
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { exchangeClock, type ClockEstimator } from '../hosts/clock.ts';
import { availableTraceEvents, gatherHostFacts, qemuTraceEvents, qemuVersion } from '../hosts/facts.ts';
import { openTransport } from '../hosts/open.ts';
import type { HostTransport } from '../hosts/transport.ts';
import { BUILTIN_METRICS, eventsNeeded, type MetricRule } from '../metrics/rules.ts';
import { metricNames, matrixVariants, pairHosts, type LoadedProfile } from '../profile/load.ts';
import type { Profile } from '../profile/schema.ts';
import { parseSize } from '../profile/size.ts';
import { newRunId, RunStore } from '../results/store.ts';
import type { HostFacts, IterationRecord, RunManifest, VariantFacts } from '../results/types.ts';
import { needsLab, prepareLab, type PreparedLab } from '../lab/prepare.ts';
import { needsLabBox, prepareLabBox, type PreparedLabBox } from '../labbox/prepare.ts';
import { runSchedule, RunInterrupted, type EngineHost, type ProgressSink } from './engine.ts';
import { buildSchedule, type Block } from './schedule.ts';

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
}

export interface RunOutcome {
  dir: string;
  manifest: RunManifest;
  records: IterationRecord[];
}

export const TOOL_VERSION = '0.1.0';

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
    iterations: options.iterations ?? profile.iterations,
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
  const result = await execa('git', ['rev-parse', 'HEAD'], { cwd: new URL('../..', import.meta.url).pathname, reject: false });
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
  const runId = options.runId ?? newRunId(loaded.profile.name);
  const store = await RunStore.create(options.outDir, runId);
  // the lab in a box (built guest, namespaced hosts) rewrites hosts and guest for this run only
  const box = needsLabBox(loaded.profile) ? await prepareLabBox(loaded.profile, store.dir, (m) => options.progress.note(m)) : undefined;
  try {
    return await runOnHosts(loaded, box?.profile ?? loaded.profile, options, store, runId, box);
  } finally {
    await box?.close();
  }
}

async function runOnHosts(loaded: LoadedProfile, profile: Profile, options: RunOptions, store: RunStore, runId: string, box: PreparedLabBox | undefined): Promise<RunOutcome> {
  const selection = selectMatrix(profile, options);
  const blocks = scheduleFor(profile, selection);
  const metrics = metricSetup(profile);

  const [nameA, nameB] = pairHosts(profile);
  const transports = new Map<string, HostTransport>();
  for (const host of profile.hosts) if (host.name === nameA || host.name === nameB) transports.set(host.name, openTransport(host));
  const engineHost = (name: string): EngineHost => {
    const host = profile.hosts.find((h) => h.name === name)!;
    return { name, transport: transports.get(name)!, runDir: join(host.workdir, runId), migrationAddress: host.migrationAddress };
  };
  const hosts: [EngineHost, EngineHost] = [engineHost(nameA), engineHost(nameB)];

  const startedAt = new Date().toISOString();
  let lab: PreparedLab | undefined;
  try {
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
        qemuVersions[hostName] = await qemuVersion(transport, binary);
        const known = availableTraceEvents(wanted, await qemuTraceEvents(transport, binary));
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
    const manifest: RunManifest = {
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
      },
      accel: { requested: profile.vm.accel, used: accel.used, reason: accel.reason },
      hosts: facts,
      variants: variantFacts,
      metrics: { primary: metrics.primary, names: [...metrics.names, ...(box?.metricNames ?? [])] },
      setup: { nic: profile.vm.nic.kind === 'none' && selection.queuePairs.every((q) => q === null) ? 'no NIC' : undefined, queuePairs: selection.queuePairs },
      pair: [nameA, nameB],
      schedule: { blocks: blocks.length, migrations: blocks.reduce((n, b) => n + b.migrations.length, 0) },
      ...(lab ? { lab: lab.manifest } : {}),
      ...(box ? { labBox: box.facts } : {}),
    };
    await store.writeManifest(manifest);
    let records: IterationRecord[] = [];
    try {
      records = await runSchedule(blocks, {
        profile,
        store,
        hosts,
        accel: accel.used,
        binaries,
        traceEvents,
        metrics,
        hooks: [...(lab?.hooks ?? []), ...(box?.hooks ?? [])],
        clock: options.clock ?? exchangeClock(),
        progress: options.progress,
        signal: options.signal,
      });
      manifest.state = 'completed';
    } catch (error) {
      manifest.state = error instanceof RunInterrupted ? 'interrupted' : 'failed';
      manifest.stateReason = (error as Error).message;
      throw error;
    } finally {
      manifest.finishedAt = new Date().toISOString();
      await store.writeManifest(manifest);
      await store.close();
    }
    return { dir: store.dir, manifest, records };
  } finally {
    const leftovers = await lab?.teardown().catch((error: Error) => [error.message]);
    if (leftovers?.length) options.progress.note(`teardown could not undo: ${leftovers.join('; ')}`);
    await Promise.allSettled(hosts.map((h) => collectHostLogs(h, store.dir)));
    await Promise.allSettled([...hosts.map((h) => h.transport.run(['rm', '-rf', '--', h.runDir], { allowFailure: true }))]);
    await Promise.allSettled([...transports.values()].map((t) => t.close()));
  }
}

/** QEMU's console and stderr files come home with the run before the host directory goes. */
async function collectHostLogs(host: EngineHost, runDir: string): Promise<void> {
  const listing = await host.transport.run(['find', host.runDir, '-type', 'f', '(', '-path', '*/console/*', '-o', '-path', '*/stderr/*', ')'], { allowFailure: true });
  for (const path of listing.stdout.split('\n').filter(Boolean)) {
    const relative = path.slice(host.runDir.length + 1);
    await host.transport.fetchFile(path, join(runDir, relative)).catch(() => undefined);
  }
}
