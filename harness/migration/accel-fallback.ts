/**
 * Under `accel: auto`, the run's first QEMU boot is the last check of KVM: the probe booted the
 * firmware with the run's QEMU, but the guest's own command line (memory, CPUs, devices) can still
 * fail to start with KVM. Then the run switches to TCG once, with a warning and QEMU's words in
 * the manifest, instead of failing migration after migration; the failed start is not a migration.
 */
import { QemuStartError } from '../qemu/instance.ts';
import type { RunningQemu } from '../qemu/running.ts';
import type { EngineOptions } from './interfaces.ts';

/** The accelerator the schedule launches with now, and whether the run's first boot has happened. */
export interface ScheduleAccel {
  current: 'kvm' | 'tcg';
  firstBootDone: boolean;
}

/**
 * Launches a block's source with the schedule's accelerator: the run's first boot, under auto with
 * KVM, gets one retry with TCG when QEMU fails to start, and the schedule stays on TCG.
 */
export async function launchFirstBoot(
  state: ScheduleAccel,
  o: Pick<EngineOptions, 'kvmFallback' | 'progress'>,
  where: { host: string; seq: number },
  launch: (accel: 'kvm' | 'tcg') => Promise<RunningQemu>,
): Promise<RunningQemu> {
  const first = !state.firstBootDone;
  state.firstBootDone = true;
  try {
    return await launch(state.current);
  } catch (error) {
    if (!first || state.current !== 'kvm' || !o.kvmFallback || !(error instanceof QemuStartError)) throw error;
    const reason = error.qemuSaid || error.message.split('\n')[0];
    o.progress.note(`warning: ${where.host}: QEMU failed to start with KVM at the run's first boot (${reason}); the run goes on under TCG`);
    state.current = 'tcg';
    await o.kvmFallback.switched({ ...where, reason });
    return launch('tcg');
  }
}
