/**
 * Launching the QEMU processes of a migration: where each keeps its socket, trace, console and
 * stderr on its host, and its command line with the hooks' changes applied.
 */
import { join } from 'node:path';
import type { Variant } from '../profile/schema.ts';
import { parseDuration } from '../profile/size.ts';
import { runCommand } from '../hosts/command.ts';
import { qemuArgs, type QemuLaunch } from '../qemu/command.ts';
import type { RunningQemu, TracerRequest } from '../qemu/running.ts';
import type { EngineHost, EngineOptions } from './interfaces.ts';
import { runDirectories } from './run-directory.ts';
import type { Block, PlannedMigration } from './schedule.ts';

export type Role = 'src' | 'dst';

function fileSlug(planned: PlannedMigration): string {
  const c = planned.cell;
  return `${String(planned.seq).padStart(4, '0')}-${c.variant}-${c.vmSize}${c.queuePairs !== null ? `-${c.queuePairs}qp` : ''}`;
}

/** Where one QEMU process keeps its socket, trace, console and stderr on its host. */
export function qemuFiles(host: EngineHost, planned: PlannedMigration, role: Role) {
  const base = `${fileSlug(planned)}-${role}-${host.name}`;
  return {
    qmpSocket: join(host.runDir, 'sock', `${String(planned.seq).padStart(4, '0')}-${role}.sock`),
    traceFile: join(host.runDir, 'traces', `${base}.log`),
    consoleFile: join(host.runDir, 'console', `${base}.log`),
    stderrFile: join(host.runDir, 'stderr', `${base}.log`),
    /** The dtrace backend's tracer: its output for this QEMU process (the migrations' trace files are cut from it) and its stderr. */
    tracerOutput: join(host.runDir, 'traces', `${base}.tracer-out`),
    tracerStderr: join(host.runDir, 'stderr', `${base}.tracer.log`),
  };
}

/** With trace.alsoLog, where the log backend writes beside a migration's trace file. */
export function logBackendFile(traceFile: string): string {
  return traceFile.replace(/\.log$/, '') + '.qemu-log.log';
}

/**
 * The dtrace backend (trace.backend stap): the tracer attached to this QEMU, and how QEMU starts
 * for it (pure; plan prints the same). The source waits under -S until the tracer is proven
 * attached; a destination waits for its incoming migration anyway.
 */
export function tracerLaunch(
  profile: EngineOptions['profile'],
  settings: QemuLaunch,
  files: ReturnType<typeof qemuFiles>,
): { tracer: TracerRequest; launch: Partial<QemuLaunch> } | undefined {
  const trace = profile.trace;
  if (trace.backend !== 'stap') return undefined;
  const binary = settings.root ? join(settings.root, settings.binary) : settings.binary;
  const tracer: TracerRequest = {
    spec: { kind: trace.tracer, binary, events: settings.traceEvents },
    outputFile: files.tracerOutput,
    stderrFile: files.tracerStderr,
    continueAfterAttach: !settings.incoming,
    attachTimeoutMs: parseDuration(trace.attachTimeout),
    ...(trace.alsoLog ? { logFileFor: logBackendFile } : {}),
  };
  return {
    tracer,
    launch: { startPaused: !settings.incoming, logBackend: trace.alsoLog, ...(trace.alsoLog ? { traceFile: logBackendFile(settings.traceFile) } : {}) },
  };
}

/** Which QEMU of which migration is launched, where, and what the hooks changed. */
export interface LaunchTarget {
  block: Pick<Block, 'cell'>;
  variant: Variant;
  host: EngineHost;
  planned: PlannedMigration;
  role: Role;
  files: ReturnType<typeof qemuFiles>;
  overrides?: Partial<QemuLaunch>;
}

/** One QEMU launch of a migration (pure): the run and `plan` both build command lines from it. */
export function launchSettings(
  o: Pick<EngineOptions, 'binaries' | 'profile' | 'accel' | 'traceEvents'>,
  { block, variant, host, planned, role, files, overrides = {} }: LaunchTarget,
): QemuLaunch {
  return {
    binary: o.binaries.get(variant.name)!,
    variant,
    vm: o.profile.vm,
    vmSize: block.cell.vmSize,
    queuePairs: block.cell.queuePairs,
    accel: o.accel,
    name: `vdpa-bench-${planned.seq}-${role}`,
    qmpSocket: files.qmpSocket,
    traceFile: files.traceFile,
    consoleFile: files.consoleFile,
    traceEvents: o.traceEvents.get(variant.name) ?? [],
    defaultMemoryDir: host.runDir,
    incoming: role === 'dst',
    ...overrides,
  };
}

type LaunchOptions = Pick<EngineOptions, 'binaries' | 'profile' | 'accel' | 'traceEvents' | 'hooks'>;
type LauncherOptions = LaunchOptions & Pick<EngineOptions, 'qemu'>;

/**
 * One QEMU launch as the engine makes it (no process started): each hook's changes over the
 * earlier ones' (a hook sees the VM settings earlier hooks made, so changes to different parts of
 * it compose), then the command line. The run starts exactly this; `plan` prints it.
 */
export async function composeLaunch(o: LaunchOptions, target: Omit<LaunchTarget, 'files' | 'overrides'>) {
  const { host, role, planned, variant } = target;
  const files = qemuFiles(host, planned, role);
  const overrides: Partial<QemuLaunch> = {};
  for (const hook of o.hooks ?? []) {
    if (hook.launch) Object.assign(overrides, await hook.launch({ host, role, planned, variant, vm: overrides.vm ?? o.profile.vm }));
  }
  const settings = launchSettings(o, { ...target, files, overrides });
  const traced = tracerLaunch(o.profile, settings, files);
  return { argv: qemuArgs({ ...settings, ...traced?.launch }), files, overrides, tracer: traced?.tracer };
}

/** Starts the QEMU processes of one block's migrations; makes each host's run directories once. */
export class QemuLauncher {
  private readonly directoriesMade = new Set<EngineHost>();

  constructor(
    private readonly o: LauncherOptions,
    private readonly block: Block,
    private readonly variant: Variant,
    private readonly qmpTimeoutMs: number,
  ) {}

  /** Starts one QEMU; `accel` is the schedule's accelerator now (a first boot may have switched it). */
  async launch(host: EngineHost, planned: PlannedMigration, role: Role, accel: 'kvm' | 'tcg' = this.o.accel): Promise<RunningQemu> {
    if (!this.directoriesMade.has(host)) {
      await runCommand(host.transport, runDirectories(host.transport, host.runDir));
      this.directoriesMade.add(host);
    }
    const { argv, files, tracer } = await composeLaunch({ ...this.o, accel }, { block: this.block, variant: this.variant, host, planned, role });
    return this.o.qemu.launch(host.transport, { argv, files, label: `${role} of migration ${planned.seq}`, timeoutMs: this.qmpTimeoutMs, tracer });
  }
}
