/**
 * Where one migration's downtime went, as a partition of its window (pure, no I/O). The window
 * (the primary metric's span, source clock) is cut at every traced milestone: QEMU's downtime
 * checkpoints (downtime-phases.ts) and the destination's vDPA steps (phases.ts: the memory
 * listener's dma_map batches, the DRIVER_OK status write, the vring enables). Each piece between
 * two milestones is named by the pair that brackets it, so a name is only given where the trace
 * shows both ends; a piece no pair names is "unattributed", and the pieces add up to the window
 * exactly (durations are differences of the same cut points).
 */
import type { DowntimeAttribution, DowntimePhases, IterationRecord, VdpaPhases } from '../results/types.ts';

export type { DowntimeAttribution };

/** The phase names, in the order a precopy switchover passes them (reports list them so). */
export const ATTRIBUTION_PHASES = [
  { name: 'source stop', side: 'source' },
  { name: 'iterable state saved', side: 'source' },
  { name: 'non-iterable state saved', side: 'source' },
  { name: 'destination load completed', side: 'destination' },
  { name: 'device start (other)', side: 'destination' },
  { name: 'pinning', side: 'destination' },
  { name: 'until DRIVER_OK', side: 'destination' },
  { name: 'vring enables', side: 'destination' },
  { name: 'unattributed', side: null },
] as const;
export type AttributionPhaseName = (typeof ATTRIBUTION_PHASES)[number]['name'];

/** The source checkpoints that follow each other, and the phase between each and its predecessor. */
const SEQUENTIAL: Record<string, { after: string; phase: AttributionPhaseName }> = {
  'src-vm-stopped': { after: 'src-downtime-start', phase: 'source stop' },
  'src-iterable-saved': { after: 'src-vm-stopped', phase: 'iterable state saved' },
  'src-non-iterable-saved': { after: 'src-iterable-saved', phase: 'non-iterable state saved' },
  'dst-precopy-loadvm-completed': { after: 'src-non-iterable-saved', phase: 'destination load completed' },
};
/** Checkpoints written while the destination starts its devices and the guest. */
const DEVICE_START = new Set(['dst-precopy-loadvm-completed', 'dst-precopy-bh-enter', 'dst-precopy-bh-announced']);

type Kind = string | 'pinning-begin' | 'pinning-commit' | 'driver-ok' | 'vring-enable';
interface Milestone {
  atUs: number;
  kind: Kind;
}

export interface AttributionInput {
  window: { metric: string; startUs: number; endUs: number };
  /** QEMU's checkpoints (source clock); absent before QEMU 8.2. */
  checkpoints?: DowntimePhases['checkpoints'];
  /** The destination's vDPA steps (source clock); absent for a cell without vDPA. */
  vdpa?: { batches: VdpaPhases['pinning']['batches']; driverOkUs: number | null; vringEnablesUs: readonly number[] };
}

const isDestinationStep = (k: Kind) => DEVICE_START.has(k) || k === 'pinning-commit' || k === 'driver-ok' || k === 'vring-enable';

/** The name of the piece from milestone `a` to milestone `b` (undefined ends: before the first, after the last). */
function pieceName(a: Milestone | undefined, b: Milestone | undefined, insideBatch: boolean, inDeviceStart: boolean): AttributionPhaseName {
  if (insideBatch) return 'pinning';
  if (a && b) {
    const seq = SEQUENTIAL[b.kind];
    if (seq && seq.after === a.kind) return seq.phase;
    if (b.kind === 'driver-ok' && isDestinationStep(a.kind)) return 'until DRIVER_OK';
    if (b.kind === 'vring-enable' && a.kind === 'vring-enable') return 'vring enables';
  }
  return inDeviceStart ? 'device start (other)' : 'unattributed';
}

export function attributeDowntime(input: AttributionInput): DowntimeAttribution {
  const { startUs, endUs, metric } = input.window;
  const milestones: Milestone[] = [];
  for (const c of input.checkpoints ?? []) milestones.push({ atUs: c.atUs, kind: c.name });
  const batches = (input.vdpa?.batches ?? []).filter((b) => b.dmaMaps > 0);
  for (const b of batches) milestones.push({ atUs: b.beginUs, kind: 'pinning-begin' }, { atUs: b.commitUs, kind: 'pinning-commit' });
  if (input.vdpa?.driverOkUs != null) milestones.push({ atUs: input.vdpa.driverOkUs, kind: 'driver-ok' });
  for (const t of input.vdpa?.vringEnablesUs ?? []) milestones.push({ atUs: t, kind: 'vring-enable' });
  milestones.sort((x, y) => x.atUs - y.atUs);
  const at = (name: string) => input.checkpoints?.find((c) => c.name === name)?.atUs;
  const deviceStart = { from: at('dst-precopy-loadvm-completed'), to: at('dst-precopy-bh-vm-started') };

  // cut points: the window's ends and every milestone strictly inside it
  const cuts = [startUs, ...milestones.map((m) => m.atUs).filter((t) => t > startUs && t < endUs), endUs];
  const uniqueCuts = cuts.filter((t, i) => i === 0 || t !== cuts[i - 1]);
  const byName = new Map<AttributionPhaseName, { durationUs: number; spans: [number, number][] }>();
  for (let i = 0; i + 1 < uniqueCuts.length; i++) {
    const from = uniqueCuts[i];
    const to = uniqueCuts[i + 1];
    // the milestones bracketing this piece: the last at or before its start, the first at or after its end
    const before = milestones.filter((m) => m.atUs <= from).at(-1);
    const after = milestones.find((m) => m.atUs >= to);
    const insideBatch = batches.some((b) => b.beginUs <= from && b.commitUs >= to);
    const inDeviceStart = deviceStart.from !== undefined && deviceStart.to !== undefined && deviceStart.from <= from && deviceStart.to >= to;
    const name = pieceName(before, after, insideBatch, inDeviceStart);
    const entry = byName.get(name) ?? { durationUs: 0, spans: [] };
    entry.durationUs += to - from;
    const last = entry.spans.at(-1);
    if (last && last[1] === from) last[1] = to;
    else entry.spans.push([from, to]);
    byName.set(name, entry);
  }
  if (byName.size === 0) byName.set('unattributed', { durationUs: 0, spans: [] });
  const phases = ATTRIBUTION_PHASES.filter((p) => byName.has(p.name)).map((p) => {
    const e = byName.get(p.name)!;
    return { name: p.name, side: p.side, durationUs: e.durationUs, durationMs: e.durationUs / 1000, spans: e.spans };
  });
  return {
    metric,
    startUs,
    endUs,
    windowUs: endUs - startUs,
    phases,
    unattributedMs: (byName.get('unattributed')?.durationUs ?? 0) / 1000,
    pinning: input.vdpa ? pinningPlacement(batches, startUs, endUs) : null,
    vringEnables: input.vdpa ? input.vdpa.vringEnablesUs.length : null,
  };
}

/** How much of the pinning (batches that mapped memory) fell before the window, inside it and after it. */
export function pinningPlacement(
  batches: readonly { beginUs: number; commitUs: number }[],
  startUs: number,
  endUs: number,
): NonNullable<DowntimeAttribution['pinning']> {
  let total = 0;
  let before = 0;
  let inside = 0;
  let after = 0;
  for (const b of batches) {
    total += b.commitUs - b.beginUs;
    before += Math.max(0, Math.min(b.commitUs, startUs) - b.beginUs);
    inside += Math.max(0, Math.min(b.commitUs, endUs) - Math.max(b.beginUs, startUs));
    after += Math.max(0, b.commitUs - Math.max(b.beginUs, endUs));
  }
  return { totalMs: total / 1000, beforeWindowMs: before / 1000, insideWindowMs: inside / 1000, afterWindowMs: after / 1000, batches: batches.length };
}

/**
 * A record's attribution: the stored one, or for a record made before it was stored, the same
 * partition from what the record kept of its traces (the checkpoints, the pinning batches,
 * DRIVER_OK, and the window's end when that is a vring enable: earlier enables were not kept, so
 * "vring enables" reads 0 there and the time before the last enable counts as device start).
 */
export function attributionOf(record: IterationRecord): DowntimeAttribution | null {
  if (record.extra?.downtimeAttribution) return record.extra.downtimeAttribution;
  const anchors = record.metricAnchors?.[record.primaryMetric];
  if (!anchors) return null;
  const phases = record.extra?.phases;
  const endIsEnable = anchors.end.event === 'vhost_vdpa_set_vring_enable_one' || anchors.end.event === 'vhost_vdpa_set_vring_ready';
  const derived = attributeDowntime({
    window: { metric: record.primaryMetric, startUs: anchors.start.timeUs, endUs: anchors.end.timeUs },
    checkpoints: record.extra?.downtimePhases?.checkpoints,
    vdpa: phases
      ? { batches: phases.pinning.batches, driverOkUs: phases.driverOk?.timeUs ?? null, vringEnablesUs: endIsEnable ? [anchors.end.timeUs] : [] }
      : undefined,
  });
  // the record kept the last enable only: how many there were is not known
  return { ...derived, vringEnables: null };
}
