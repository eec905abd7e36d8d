/**
 * Launching the QEMU processes of a migration: where each keeps its socket, trace, console and
 * stderr on its host, and its command line with the hooks' changes applied.
 */
import { join } from 'node:path';
import type { Variant } from '../profile/schema.ts';
import { qemuArgs, type QemuLaunch } from '../qemu/command.ts';
import { QemuInstance } from '../qemu/instance.ts';
import type { EngineHost, EngineOptions } from './interfaces.ts';
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

/** Starts the QEMU processes of one block's migrations; makes each host's run directories once. */
export class QemuLauncher {
  private readonly directoriesMade = new Set<EngineHost>();

  constructor(
    private readonly o: Pick<EngineOptions, 'binaries' | 'profile' | 'accel' | 'traceEvents' | 'hooks'>,
    private readonly block: Block,
    private readonly variant: Variant,
    private readonly qmpTimeoutMs: number,
  ) {}

  /** Starts one QEMU; `accel` is the schedule's accelerator now (a first boot may have switched it). */
  async launch(host: EngineHost, planned: PlannedMigration, role: Role, accel: 'kvm' | 'tcg' = this.o.accel): Promise<QemuInstance> {
    const files = qemuFiles(host, planned, role);
    if (!this.directoriesMade.has(host)) {
      await host.transport.run([
        'mkdir',
        '-p',
        join(host.runDir, 'sock'),
        join(host.runDir, 'traces'),
        join(host.runDir, 'console'),
        join(host.runDir, 'stderr'),
      ]);
      this.directoriesMade.add(host);
    }
    const overrides: Partial<QemuLaunch> = {};
    // each hook sees the VM settings earlier hooks made, so changes to different parts of it compose
    for (const hook of this.o.hooks ?? []) {
      if (hook.launch) Object.assign(overrides, await hook.launch({ host, role, planned, variant: this.variant, vm: overrides.vm ?? this.o.profile.vm }));
    }
    const argv = qemuArgs(launchSettings({ ...this.o, accel }, { block: this.block, variant: this.variant, host, planned, role, files, overrides }));
    return QemuInstance.launch(host.transport, { argv, files, label: `${role} of migration ${planned.seq}`, timeoutMs: this.qmpTimeoutMs });
  }
}
