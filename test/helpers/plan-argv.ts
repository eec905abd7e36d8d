/**
 * `plan` against a recorded run: the plan is made with the facts the run found out (its id,
 * accelerator, namespaces, built guest, vDPA devices, QEMU binaries, trace events) in place of
 * its placeholders, and every QEMU process and probe the run started (argv.ndjson) must appear
 * in it byte for byte, as the host's transport ran it.
 */
import { dirname } from 'node:path';
import type { MigrationHooks } from '../../harness/migration/interfaces.ts';
import type { PlanFacts } from '../../harness/plan/context.ts';
import { planRun } from '../../harness/plan/plan.ts';
import type { LoadedProfile } from '../../harness/profile/load.ts';
import { readArgvLog } from '../../harness/results/argv-log.ts';
import { readManifest } from '../../harness/results/store.ts';
import type { IterationRecord, RunManifest } from '../../harness/results/types.ts';
import type { MatrixNarrowing } from '../../harness/run/selection.ts';

export interface PlanComparison {
  /** QEMU launches, probes and run-directory mkdirs found in both, identical. */
  matched: number;
  /** Found in both, different: the launch, then plan's line and the run's. */
  mismatches: string[];
  /** Started by the run, absent from the plan (a fresh guest after a damaged one). */
  unplanned: string[];
  /** In the plan, never started (a migration the run did not reach). */
  notStarted: string[];
  plan: string;
}

type LabManifest = { vhostVdpaDevices?: Record<string, Record<string, string>>; qemu?: Record<string, Record<string, { binary: string }>> };
type LabBoxManifest = { guest?: { dir?: string }; network?: { namespaces?: Record<string, string> } };

/** The run's own values for what a plan shows as placeholders, from its manifest. */
export function factsOf(runDir: string, manifest: RunManifest): PlanFacts {
  const lab = manifest.lab as LabManifest | undefined;
  const box = manifest.labBox as LabBoxManifest | undefined;
  const namespace = Object.values(box?.network?.namespaces ?? {})[0];
  const binaries = new Map<string, Map<string, string>>();
  for (const [host, variants] of Object.entries(lab?.qemu ?? {}))
    for (const [variant, { binary }] of Object.entries(variants)) binaries.set(variant, (binaries.get(variant) ?? new Map<string, string>()).set(host, binary));
  return {
    runId: manifest.runId,
    resultsDir: dirname(runDir),
    accel: manifest.accel.used === 'none' ? undefined : (manifest.accel.used as 'kvm' | 'tcg'),
    netnsToken: namespace ? /^vb([0-9a-f]+)-/.exec(namespace)![1] : 'TOKEN',
    guestDir: box?.guest?.dir,
    devicePaths: lab?.vhostVdpaDevices ? new Map(Object.entries(lab.vhostVdpaDevices).map(([h, d]) => [h, new Map(Object.entries(d))])) : undefined,
    binaries: binaries.size > 0 ? binaries : undefined,
    traceEvents: new Map(manifest.variants.flatMap((v) => (v.traceEvents ? [[v.name, v.traceEvents] as const] : []))),
  };
}

/** The plan's QEMU launches (host and QEMU name → command) and probe starts (in order), as printed. */
function plannedStarts(plan: string): { qemu: Map<string, string>; probes: string[]; tracers: Map<string, string>; directories: string[] } {
  const qemu = new Map<string, string>();
  // a QEMU run from a Debian root has a multi-line sh -c script: the command ends at its redirection
  for (const m of plan.matchAll(/^\[([^\]]+)\] start (?:source|destination)(?: \([^)]*\))?: ([\s\S]*?) {2}>>\S+ 2>&1$/gm)) {
    qemu.set(`${m[1]} ${qemuName(m[2])}`, m[2]);
  }
  const probes = [...plan.matchAll(/^\[[^\]]+\] start the probe: (.*) {2}>\S+ 2>\S+$/gm)].map((m) => m[1]);
  const tracers = new Map(
    [...plan.matchAll(/^\[([^\]]+)\] start tracer: (.*) {2}>>\S+ 2>&1$/gm)].map((m) => [`${m[1]} ${tracerOutput(m[2])}`, withoutPid(m[2])] as const),
  );
  const directories = [...plan.matchAll(/^\[([^\]]+)\] (.*mkdir -p \S+\/sock \S+\/traces \S+\/console \S+\/stderr'?)$/gm)].map((m) => `${m[1]} ${m[2]}`);
  return { qemu, probes, tracers, directories };
}

/** A tracer's output file: one per QEMU process, the key a plan line and a recorded start share. */
function tracerOutput(shown: string): string {
  const out = /\S+\.tracer-out/.exec(shown);
  if (!out) throw new Error(`a tracer command line without its .tracer-out file: ${shown.slice(0, 200)}`);
  return out[0].replace(/'/g, '');
}

/** The QEMU pid is only known when it runs: the plan shows $QEMU_PID in its places. */
function withoutPid(shown: string): string {
  return shown.replace(/(vdpa-bench-tracer (?:-|tai) |--pid |-p )\S+/g, '$1PID');
}

function qemuName(shown: string): string {
  const name = /-name (vdpa-bench-\d+-(?:src|dst))\b/.exec(shown);
  if (!name) throw new Error(`a QEMU command line without -name vdpa-bench-N-ROLE: ${shown.slice(0, 200)}`);
  return name[1];
}

/** What the plan and the run's recorded starts have and lack; `hooks`: given to the plan as to the run. */
export async function comparePlanWithRun(
  runDir: string,
  loaded: LoadedProfile,
  narrowing: MatrixNarrowing,
  hooks: readonly MigrationHooks[] = [],
): Promise<PlanComparison> {
  const manifest = await readManifest(runDir);
  if (!manifest) throw new Error(`${runDir}: no manifest`);
  const plan = await planRun(loaded, { ...narrowing, facts: factsOf(runDir, manifest), hooks });
  const planned = plannedStarts(plan);
  const recorded = await readArgvLog(runDir);
  const out: PlanComparison = { matched: 0, mismatches: [], unplanned: [], notStarted: [], plan };
  const started = new Set<string>();
  for (const entry of recorded.filter((e) => e.role === 'qemu')) {
    const key = `${entry.host} ${qemuName(entry.shown)}`;
    started.add(key);
    const line = planned.qemu.get(key);
    if (line === undefined) out.unplanned.push(key);
    else if (line === entry.shown) out.matched++;
    else out.mismatches.push(`${key}:\n  plan: ${line}\n  run:  ${entry.shown}`);
  }
  for (const key of planned.qemu.keys()) if (!started.has(key)) out.notStarted.push(key);
  // the dtrace backend's tracers, one per QEMU process (qemu/traced.ts), as the plan shows them
  for (const entry of recorded.filter((e) => e.role === 'tracer')) {
    const key = `${entry.host} ${tracerOutput(entry.shown)}`;
    const line = planned.tracers.get(key);
    if (line === undefined) out.unplanned.push(`tracer ${key}`);
    else if (line === withoutPid(entry.shown)) out.matched++;
    else out.mismatches.push(`tracer ${key}:\n  plan: ${line}\n  run:  ${withoutPid(entry.shown)}`);
  }
  const probes = recorded.filter((e) => e.role === 'prober');
  probes.forEach((entry, i) => {
    const line = planned.probes[i];
    if (line === undefined) out.unplanned.push(`probe ${i + 1}`);
    else if (line === entry.shown) out.matched++;
    else out.mismatches.push(`probe ${i + 1}:\n  plan: ${line}\n  run:  ${entry.shown}`);
  });
  // the run directories QEMU writes into, made once per VM boot and side of the pair
  const made = recorded.filter((e) => e.argv[0] === 'mkdir' && e.argv[2]?.endsWith('/sock')).map((e) => `${e.host} ${e.shown}`);
  if (made.join('\n') === planned.directories.join('\n')) out.matched += made.length;
  else out.mismatches.push(`run directories:\n  plan: ${planned.directories.join(' | ')}\n  run:  ${made.join(' | ')}`);
  return out;
}

/**
 * Launches the plan cannot show and no failure explains: after a migration that was not ok the
 * engine boots a fresh guest for the next one (a source launch the plan shows as a trace rotation).
 */
export function unexplainedLaunches(comparison: PlanComparison, records: readonly IterationRecord[]): string[] {
  const notOk = new Set(records.filter((r) => r.status !== 'ok').map((r) => r.seq));
  return comparison.unplanned.filter((key) => {
    const fresh = /vdpa-bench-(\d+)-src$/.exec(key);
    return !(fresh && notOk.has(Number(fresh[1]) - 1));
  });
}
