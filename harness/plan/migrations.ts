/**
 * `plan`'s migrations section: every VM boot and migration as the engine makes them, QEMU
 * launched through the run's own hooks (composeLaunch), what each hook does before `migrate`
 * as it describes itself, the engine's QMP exchange, trace rotation and tracers.
 */
import { deviceFor, type VdpaHost } from '../lab/vdpa.ts';
import { labLaunchHooks } from '../lab/launch-hooks.ts';
import { runHooks } from '../run/hooks.ts';
import { queuePairStep } from '../provision/steps.ts';
import { migrationQmpCommands } from '../migration/migrate.ts';
import { composeLaunch, logBackendFile, qemuFiles } from '../migration/launch.ts';
import { runDirectories } from '../migration/run-directory.ts';
import type { TracerRequest } from '../qemu/running.ts';
import { tracerArgv, tracerCommand } from '../qemu/tracer.ts';
import { TRACER_READY_EVENT } from '../traces/tracer-output.ts';
import { type EngineHost } from '../migration/interfaces.ts';
import { cellLabel } from '../profile/cell.ts';
import type { Host, Variant } from '../profile/schema.ts';
import { describeCommand } from '../hosts/command.ts';
import { vhostVdpaDeviceCommand } from '../provision/preflight.ts';
import type { Block, PlannedMigration } from '../migration/schedule.ts';
import type { MigrationHooks } from '../migration/interfaces.ts';
import { devicePlaceholder, planEngineHost, type PlanContext } from './context.ts';
import { planBinary, planRoot } from './host-preparation.ts';

/** What the migrations section shares across VM boots: the pair as the engine sees it, its launches, the QMP line format. */
interface MigrationPlan {
  ctx: PlanContext;
  pair: [EngineHost, EngineHost];
  sameHost: boolean;
  /** What the engine launches QEMU from: binaries, accelerator, trace events and the run's hooks. */
  launch: Parameters<typeof composeLaunch>[0];
  qmp: (host: EngineHost, who: string, command: { execute: string; arguments?: unknown }) => void;
}

/**
 * The run's hooks over the plan's facts: the lab's launch hooks with each host's planned binary,
 * root and device (placeholders unless facts were given), the lab in a box's, the caller's and
 * the profile's own, in the run's order (run/hooks.ts).
 */
function planLaunchOptions(ctx: PlanContext, extra: readonly MigrationHooks[]): MigrationPlan['launch'] {
  const { profile, variants, hosts, facts, vdpa, nameA, nameB, box, metrics } = ctx;
  const perHost = (pathOf: (v: Variant, h: Host) => string | undefined, vs: readonly Variant[]) =>
    new Map(vs.map((v) => [v.name, new Map(hosts.flatMap((h) => (pathOf(v, h) === undefined ? [] : [[h.name, pathOf(v, h)!] as const])))]));
  const binaryOn = facts.binaries ?? perHost(planBinary, variants);
  const rootOn = perHost(
    planRoot,
    variants.filter((v) => v.qemu.debian),
  );
  const devicePaths =
    facts.devicePaths ?? new Map(hosts.filter((h) => h.vdpa).map((h) => [h.name, new Map(h.vdpa!.devices.map((d) => [d.name, devicePlaceholder(d.name)]))]));
  const vdpaHosts = hosts.filter((h): h is VdpaHost => !!h.vdpa);
  const lab = labLaunchHooks({
    binaryOn,
    rootOn,
    vdpa: vdpa ? { devicePaths, sameHost: nameA === nameB, hosts: vdpaHosts, guestKind: profile.vm.guest.kind } : undefined,
  });
  const hooks = runHooks({
    profile,
    pair: [nameA, nameB],
    metricNames: metrics.names,
    note: () => undefined,
    lab: lab.hooks,
    labWaits: lab.waits,
    box: box?.hooks,
    extra,
  });
  const traceEvents = new Map(variants.map((v) => [v.name, facts.traceEvents?.get(v.name) ?? ctx.traceEvents]));
  return { binaries: lab.binaries, profile, accel: ctx.accel, traceEvents, hooks };
}

export async function planMigrations(ctx: PlanContext, extra: readonly MigrationHooks[]): Promise<void> {
  const { vdpa, nameA, nameB, say } = ctx;
  const plan: MigrationPlan = {
    ctx,
    pair: [planEngineHost(ctx, nameA), planEngineHost(ctx, nameB)],
    sameHost: nameA === nameB,
    launch: planLaunchOptions(ctx, extra),
    qmp: (host, who, command) => say(`[${host.name}] QMP ${who}: ${JSON.stringify(command)}`),
  };

  say();
  say(`== migrations (in order) ==`);
  let devicesHave = ctx.queuePairs;
  for (const block of ctx.blocks) {
    say();
    const want = block.cell.queuePairs;
    if (vdpa && want !== null && want !== devicesHave) {
      planQueuePairChange(ctx, block, devicesHave, want);
      devicesHave = want;
    }
    await planVmBoot(plan, block);
  }
}

/** A sweep cell that needs another queue-pair count: the devices are re-created before its VM boot. */
function planQueuePairChange({ vdpaPairHosts, transports, say }: PlanContext, block: Block, devicesHave: number | null, want: number): void {
  say(
    `### before VM boot ${block.index}: vDPA devices re-created with max_vqp ${want} (was ${devicesHave ?? 'the default'}; the ledger records it, teardown restores it)`,
  );
  for (const h of vdpaPairHosts) {
    const t = transports.get(h.name)!;
    for (const d of h.vdpa.devices) {
      const s = queuePairStep(d, h.vdpa.managementDevice, h.vdpa.driver, want);
      say(`[${h.name}] check: ${describeCommand(t, s.check)}`);
      for (const c of s.apply(undefined)) say(`[${h.name}] apply: ${describeCommand(t, c)}`);
      say(
        `[${h.name}] resolve ${devicePlaceholder(d.name)}: ${describeCommand(t, vhostVdpaDeviceCommand(d.name)).split('\n')[0]}  # script: harness/provision/preflight.ts`,
      );
    }
  }
}

/** The running source's trace moves to this migration's file: HMP logfile (log backend), or the tracer's output cut there (dtrace). */
function planRotation({ ctx, qmp }: MigrationPlan, from: EngineHost, planned: PlannedMigration): void {
  const traceFile = qemuFiles(from, planned, 'src').traceFile;
  const { trace } = ctx.profile;
  if (trace.backend === 'stap') {
    ctx.say(`# the tracer's output so far is cut into the previous trace file; from here it goes to ${traceFile}`);
    if (!trace.alsoLog) return;
  }
  const logFile = trace.backend === 'stap' ? logBackendFile(traceFile) : traceFile;
  qmp(from, 'source', { execute: 'human-monitor-command', arguments: { 'command-line': `logfile ${logFile}` } });
}

/** One VM boot: the guest starts on the first source and is migrated back and forth; the last destination quits. */
async function planVmBoot(plan: MigrationPlan, block: Block): Promise<void> {
  const { ctx, pair, qmp } = plan;
  ctx.say(`### VM boot ${block.index}: ${cellLabel(block.cell)} (${block.migrations.length} migrations)`);
  let current: EngineHost | undefined;
  // as the engine's launcher, once per VM boot and side of the pair
  const directoriesMade = new Set<EngineHost>();
  for (const planned of block.migrations) {
    const from = pair[planned.direction === 0 ? 0 : 1];
    const to = pair[planned.direction === 0 ? 1 : 0];
    await planMigration(plan, { block, planned, from, to, sourceRunning: !!current, directoriesMade });
    current = to;
  }
  if (current) qmp(current, 'last destination', { execute: 'quit' });
}

interface PlannedStep {
  block: Block;
  planned: PlannedMigration;
  from: EngineHost;
  to: EngineHost;
  /** The source QEMU is the previous migration's destination: only its trace file changes. */
  sourceRunning: boolean;
  /** Sides of the pair whose run directories this VM boot has made. */
  directoriesMade: Set<EngineHost>;
}

/**
 * What the hooks do before `migrate`, each as it describes itself, in the order of the run's own
 * hook list (the lab's, the lab in a box's, the caller's, the profile's: run/hooks.ts).
 */
function planBeforeMigration({ ctx, launch }: MigrationPlan, { block, planned, from, to }: PlannedStep): void {
  const variant = ctx.variants.find((v) => v.name === block.cell.variant)!;
  for (const hook of launch.hooks ?? [])
    for (const line of hook.describeBeforeMigration?.({ planned, from, to, variant, vm: ctx.profile.vm }) ?? []) ctx.say(line);
}

/** One migration: launch (or reuse) the source, launch the destination, the engine's QMP exchange, the record's extras. */
async function planMigration(plan: MigrationPlan, step: PlannedStep): Promise<void> {
  const { ctx, sameHost, qmp } = plan;
  const { vdpa, vdpaPairHosts, box, say } = ctx;
  const { block, planned, from, to } = step;
  const variant = ctx.variants.find((v) => v.name === block.cell.variant)!;
  say(`# migration ${planned.seq}: ${from.name} -> ${to.name}${planned.warmup ? ' (warm-up)' : ''}`);
  if (!step.sourceRunning) await planLaunch(plan, step, from, 'src');
  else planRotation(plan, from, planned);
  qmp(from, 'source', { execute: 'query-status' });
  await planLaunch(plan, step, to, 'dst');
  planBeforeMigration(plan, step);
  const commands = migrationQmpCommands(variant, to.migrationAddress, ctx.profile.migration.port);
  for (const [i, c] of [...commands.setUp, ...commands.readBack].entries()) {
    if (i === commands.setUp.length)
      say(`# the settings each QEMU uses, its defaults included, into the record (migrationSettings); one not taken as set fails the migration`);
    qmp(from, 'source', c);
    qmp(to, 'destination', c);
  }
  qmp(to, 'destination', commands.incoming);
  qmp(to, 'destination', { execute: 'query-migrate' });
  qmp(from, 'source', commands.migrate(ctx.profile.migration.port === 0 ? '<port from query-migrate socket-address>' : String(ctx.profile.migration.port)));
  say(
    `# wait for MIGRATION completed on the source${variant.capabilities['pause-before-switchover'] ? ' (migrate-continue {"state":"pre-switchover"} at pre-switchover)' : ''}, then on the destination`,
  );
  qmp(from, 'source', { execute: 'query-migrate' });
  qmp(to, 'destination', { execute: 'query-status' });
  qmp(from, 'source', { execute: 'quit' });
  if (vdpa && to.name && vdpaPairHosts.some((h) => h.name === to.name)) {
    const device = deviceFor(
      vdpaPairHosts.find((h) => h.name === to.name)!.vdpa.devices.map((d) => d.name),
      sameHost,
      planned,
      'dst',
    );
    say(`[${to.name}] negotiated queue pairs for the record: ${to.transport.describe(['vdpa', '-j', 'dev', 'config', 'show', device])}`);
  }
  for (const line of box?.afterMigration(planned.seq) ?? []) say(line);
}

/** A QEMU launch as the engine makes it (composeLaunch: the run's hooks, the root, the run directories, the command line). */
async function planLaunch(plan: MigrationPlan, { block, planned, directoriesMade }: PlannedStep, host: EngineHost, role: 'src' | 'dst'): Promise<void> {
  const { variants, vdpa, say } = plan.ctx;
  const variant = variants.find((v) => v.name === block.cell.variant)!;
  if (!directoriesMade.has(host)) say(`[${host.name}] ${describeCommand(host.transport, runDirectories(host.transport, host.runDir))}`);
  directoriesMade.add(host);
  const { argv, files, overrides, tracer } = await composeLaunch(plan.launch, { block, variant, host, planned, role });
  say(
    `[${host.name}] start ${role === 'src' ? 'source' : 'destination'}${vdpa && overrides.vhostVdpaDevice ? ` (${overrides.vhostVdpaDevice.replace('/dev/vhost-vdpa-@', 'vDPA device ')})` : ''}: ${host.transport.describe(argv)}  >>${files.stderrFile} 2>&1`,
  );
  if (tracer) planTracer(plan, host, role, tracer);
}

/** The dtrace backend: the tracer attached to the QEMU just started, as the run starts it (qemu/traced.ts). */
function planTracer(plan: MigrationPlan, host: EngineHost, role: 'src' | 'dst', tracer: TracerRequest): void {
  const { say } = plan.ctx;
  const pid = '$QEMU_PID';
  say(`[${host.name}] # ${tracer.spec.kind} attached to that QEMU only (${pid}: its pid); a lab engineer would type:`);
  say(`[${host.name}] #   ${host.transport.describe(tracerCommand(tracer.spec, pid))}`);
  say(`[${host.name}] start tracer: ${host.transport.describe(tracerArgv(tracer.spec, pid, tracer.outputFile))}  >>${tracer.stderrFile} 2>&1`);
  plan.qmp(host, role === 'src' ? 'source' : 'destination', { execute: 'query-name' });
  say(`# ... repeated until ${tracer.outputFile} has a ${TRACER_READY_EVENT} line from ${pid} (within ${tracer.attachTimeoutMs} ms)`);
  if (tracer.continueAfterAttach) plan.qmp(host, 'source', { execute: 'cont' });
}
