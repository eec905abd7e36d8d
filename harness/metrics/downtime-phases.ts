/**
 * Where a migration's downtime went, from QEMU's own checkpoints (pure, no I/O). QEMU >= 8.2
 * traces `vmstate_downtime_checkpoint` at each step of the switchover: the source stops the guest,
 * saves the rest of RAM (iterable state) and the devices (non-iterable state); the destination
 * finishes loading the stream and starts the guest. Each phase runs from one checkpoint to the
 * next; destination times are corrected by the clock offset, like every metric's end.
 */
import type { DowntimePhases } from '../results/types.ts';
import type { TraceEvent } from '../traces/parse.ts';
import type { TimeWindow } from './rules.ts';

export const CHECKPOINT_EVENT = 'vmstate_downtime_checkpoint';

/** The precopy checkpoints in the order QEMU passes them, each with the side that writes it. */
export const PRECOPY_CHECKPOINTS = [
  { name: 'src-downtime-start', side: 'source' },
  { name: 'src-vm-stopped', side: 'source' },
  { name: 'src-iterable-saved', side: 'source' },
  { name: 'src-non-iterable-saved', side: 'source' },
  { name: 'dst-precopy-loadvm-completed', side: 'destination' },
  { name: 'dst-precopy-bh-enter', side: 'destination' },
  { name: 'dst-precopy-bh-announced', side: 'destination' },
  { name: 'dst-precopy-bh-vm-started', side: 'destination' },
] as const;

/** Phases as a lab engineer names them: from the checkpoint `from` to the checkpoint `to`. */
export const DOWNTIME_PHASES = [
  { name: 'source stop', from: 'src-downtime-start', to: 'src-vm-stopped', side: 'source' },
  { name: 'iterable state saved', from: 'src-vm-stopped', to: 'src-iterable-saved', side: 'source' },
  { name: 'non-iterable state saved', from: 'src-iterable-saved', to: 'src-non-iterable-saved', side: 'source' },
  { name: 'destination load completed', from: 'src-non-iterable-saved', to: 'dst-precopy-loadvm-completed', side: 'destination' },
  { name: 'device start', from: 'dst-precopy-loadvm-completed', to: 'dst-precopy-bh-vm-started', side: 'destination' },
] as const;

/** The record's shape (harness/results/record-parts.ts). */
export type { DowntimePhases };
type Checkpoint = DowntimePhases['checkpoints'][number];
type DowntimePhase = DowntimePhases['phases'][number];

function inWindow(e: TraceEvent, w: TimeWindow | undefined): boolean {
  return !w || ((w.fromUs === undefined || e.timeUs >= w.fromUs) && (w.toUs === undefined || e.timeUs <= w.toUs));
}

function lastCheckpoint(events: readonly TraceEvent[], name: string, w: TimeWindow | undefined): TraceEvent | undefined {
  let found: TraceEvent | undefined;
  for (const e of events) if (e.name === CHECKPOINT_EVENT && e.args.trim() === name && inWindow(e, w) && (!found || e.timeUs >= found.timeUs)) found = e;
  return found;
}

export interface DowntimePhaseInput {
  source: readonly TraceEvent[];
  destination: readonly TraceEvent[];
  /** Destination clock minus source clock, µs. */
  clockOffsetUs: number;
  windows?: { source?: TimeWindow; destination?: TimeWindow };
}

/** The checkpoints and phases of one migration; null when the source traced no src-downtime-start (QEMU < 8.2). */
export function downtimePhases(input: DowntimePhaseInput): DowntimePhases | null {
  const found = new Map<string, Checkpoint>();
  for (const c of PRECOPY_CHECKPOINTS) {
    const events = c.side === 'source' ? input.source : input.destination;
    const e = lastCheckpoint(events, c.name, c.side === 'source' ? input.windows?.source : input.windows?.destination);
    if (e) found.set(c.name, { name: c.name, side: c.side, atUs: c.side === 'source' ? e.timeUs : e.timeUs - input.clockOffsetUs, atMs: 0, line: e.line });
  }
  const start = found.get('src-downtime-start');
  if (!start) return null;
  for (const c of found.values()) c.atMs = (c.atUs - start.atUs) / 1000;
  const phases: DowntimePhase[] = [];
  const missing: string[] = [];
  for (const p of DOWNTIME_PHASES) {
    const from = found.get(p.from);
    const to = found.get(p.to);
    if (!from || !to) {
      missing.push(`${p.name} (${!from ? p.from : p.to} not traced)`);
      continue;
    }
    phases.push({ name: p.name, side: p.side, startUs: from.atUs, endUs: to.atUs, durationMs: (to.atUs - from.atUs) / 1000 });
  }
  return { startUs: start.atUs, checkpoints: [...found.values()], phases, missing };
}
