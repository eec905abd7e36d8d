/**
 * Phases of one migration for the timeline chart (pure), from the record's typed parts: the vDPA
 * analysis (`extra.phases`: downtime window, pinning batches, DRIVER_OK; vrings and the QMP
 * blackout as notes) and QEMU's own checkpoints (`extra.downtimePhases`: source stop … device
 * start). Times are µs, source clock; rows are placed in ms against the source freeze.
 */
import type { DowntimePhases, IterationRecord, RecordedPhases } from '../../results/types.ts';

export interface Phase {
  name: string;
  /** ms relative to the start of the primary downtime window (source freeze) when known. */
  startMs: number;
  endMs: number;
  side?: string;
  instant: boolean;
}

/** A row before it is placed on the freeze-relative axis: µs, source clock. */
interface Span {
  name: string;
  startUs: number;
  endUs: number;
  side: string;
}

const GiB = 1024 ** 3;
const bytesText = (b: number) => (b >= GiB ? `${(b / GiB).toFixed(1)} GiB` : `${(b / 1024 ** 2).toFixed(0)} MiB`);

/** The vDPA analysis's phases as timeline rows plus what has no place on a time axis. */
function vdpaSpans(p: RecordedPhases): { spans: Span[]; notes: string[] } {
  const spans: Span[] = [];
  const notes: string[] = [];
  const w = p.downtimeWindow;
  if (w) spans.push({ name: `downtime (${w.metric})`, startUs: w.startUs, endUs: w.endUs, side: 'downtime window' });
  const batches = p.pinning.batches.filter((b) => b.dmaMaps > 0);
  batches.forEach((b, i) => {
    const name = `pinning${batches.length > 1 ? ` ${i + 1}` : ''}: ${b.dmaMaps} dma_map, ${bytesText(b.bytes)}`;
    spans.push({ name, startUs: b.beginUs, endUs: b.commitUs, side: 'destination' });
    if (b.overlapMs > 0) notes.push(`${name} overlaps the downtime window by ${b.overlapMs.toFixed(1)} ms`);
  });
  if (p.driverOk) spans.push({ name: 'DRIVER_OK', startUs: p.driverOk.timeUs, endUs: p.driverOk.timeUs, side: 'destination' });
  const v = p.vrings;
  notes.push(v.ok === null ? `vrings not counted: ${v.reason}` : `vrings enabled ${v.enabled}/${v.expected}${v.problem ? ` (${v.problem})` : ''}`);
  if (p.destinationQmpBlackoutMs !== null) notes.push(`destination QMP blackout at start-up ${p.destinationQmpBlackoutMs.toFixed(0)} ms`);
  return { spans, notes };
}

/** Facts about a record's phases that a time axis cannot show (vring count, overlaps, QMP blackout). */
export function phaseNotes(record: IterationRecord): string[] {
  const phases = record.extra?.phases;
  return phases ? vdpaSpans(phases).notes : [];
}

/** QEMU's own downtime phases (harness/metrics/downtime-phases.ts: source stop ... device start), as timeline rows. */
function checkpointSpans(downtimePhases: DowntimePhases | undefined): Span[] {
  return (downtimePhases?.phases ?? []).map((p) => ({ name: `checkpoint: ${p.name}`, startUs: p.startUs, endUs: p.endUs, side: p.side }));
}

type Anchors = NonNullable<IterationRecord['metricAnchors']>[string];

/** The record's phases, plus the primary downtime window itself as the reference row; null when it has none. */
export function recordPhases(record: IterationRecord): Phase[] | null {
  const anchors = record.metricAnchors?.[record.primaryMetric];
  const checkpoints = checkpointSpans(record.extra?.downtimePhases);
  const vdpa = record.extra?.phases;
  if (vdpa) {
    const spans = [...vdpaSpans(vdpa).spans, ...checkpoints];
    if (spans.length === 0) return null;
    const zero = vdpa.downtimeWindow?.startUs ?? anchors?.start.timeUs ?? Math.min(...spans.map((p) => p.startUs));
    const phases: Phase[] = [];
    if (!vdpa.downtimeWindow && anchors) phases.push(downtimeWindow(record.primaryMetric, anchors));
    for (const p of spans)
      phases.push({ name: p.name, startMs: (p.startUs - zero) / 1000, endMs: (p.endUs - zero) / 1000, side: p.side, instant: p.startUs === p.endUs });
    return phases;
  }
  if (checkpoints.length === 0) return null;
  const zeroUs = anchors?.start.timeUs ?? Math.min(...checkpoints.map((p) => p.startUs));
  const phases: Phase[] = [];
  if (anchors) phases.push(downtimeWindow(record.primaryMetric, anchors));
  for (const p of checkpoints) {
    const startMs = (p.startUs - zeroUs) / 1000;
    const endMs = (p.endUs - zeroUs) / 1000;
    phases.push({ name: p.name, startMs: Math.min(startMs, endMs), endMs: Math.max(startMs, endMs), side: p.side, instant: startMs === endMs });
  }
  return phases;
}

/** The primary metric's own span, drawn first: the bar every phase is read against. */
function downtimeWindow(metric: string, anchors: Anchors): Phase {
  return { name: `downtime (${metric})`, startMs: 0, endMs: (anchors.end.timeUs - anchors.start.timeUs) / 1000, instant: false, side: 'downtime window' };
}
