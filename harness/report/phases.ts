/**
 * Phases of one migration for the timeline chart (pure). Records may carry them in
 * `extra.phases` (added by the trace-phase analysis); the shapes accepted are
 *   [{ name, startUs, endUs }]                 µs since the epoch, source clock (like metric anchors)
 *   [{ name, startMs, endMs }]                 ms relative to the source freeze
 *   [{ name, atUs }] / [{ name, atMs }]        an instant (e.g. DRIVER_OK)
 *   { <name>: { startUs, endUs } | ... }       the same keyed by name
 * with optional `side`/`host`, and the vDPA analysis's own object (harness/metrics/phases.ts:
 * downtimeWindow, pinning.batches, driverOk, vrings, destinationQmpBlackoutMs). Anything else is
 * skipped, not guessed at.
 */
import type { IterationRecord } from '../results/types.ts';

export interface Phase {
  name: string;
  /** ms relative to the start of the primary downtime window (source freeze) when known. */
  startMs: number;
  endMs: number;
  side?: string;
  instant: boolean;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

interface RawPhase {
  name: string;
  startUs?: number;
  endUs?: number;
  startMs?: number;
  endMs?: number;
  side?: string;
}

function rawPhases(value: unknown): RawPhase[] {
  const entries: [string | undefined, Record<string, unknown>][] = [];
  if (Array.isArray(value)) {
    for (const item of value) if (item && typeof item === 'object') entries.push([undefined, item as Record<string, unknown>]);
  } else if (value && typeof value === 'object') {
    for (const [name, item] of Object.entries(value)) {
      if (item && typeof item === 'object') entries.push([name, item as Record<string, unknown>]);
    }
  }
  const out: RawPhase[] = [];
  for (const [key, item] of entries) {
    const name = [item.name, item.phase, item.label, key].find((n) => typeof n === 'string' && n.length > 0) as string | undefined;
    if (!name) continue;
    const startUs = num(item.startUs) ?? num(item.atUs);
    const endUs = num(item.endUs) ?? num(item.atUs) ?? startUs;
    const startMs = num(item.startMs) ?? num(item.atMs);
    const endMs = num(item.endMs) ?? num(item.atMs) ?? startMs;
    const side = [item.side, item.host].find((s) => typeof s === 'string') as string | undefined;
    if (startUs !== undefined && endUs !== undefined) out.push({ name, startUs, endUs, side });
    else if (startMs !== undefined && endMs !== undefined) out.push({ name, startMs, endMs, side });
  }
  return out;
}

const GiB = 1024 ** 3;
const bytesText = (b: number) => (b >= GiB ? `${(b / GiB).toFixed(1)} GiB` : `${(b / 1024 ** 2).toFixed(0)} MiB`);

interface VdpaPhasesShape {
  downtimeWindow?: { metric?: string; startUs?: number; endUs?: number } | null;
  pinning?: { batches?: { beginUs?: number; commitUs?: number; dmaMaps?: number; bytes?: number; overlapMs?: number }[] };
  driverOk?: { timeUs?: number } | null;
  vrings?: { enabled?: number; expected?: number; ok?: boolean | null; reason?: string; problem?: string };
  destinationQmpBlackoutMs?: number | null;
}

function isVdpaShape(value: unknown): value is VdpaPhasesShape {
  return !!value && typeof value === 'object' && !Array.isArray(value) && ('pinning' in value || 'downtimeWindow' in value || 'driverOk' in value);
}

/** The vDPA analysis's phases as timeline rows (µs, source clock) plus what has no place on a time axis. */
function vdpaRawPhases(p: VdpaPhasesShape): { raw: RawPhase[]; notes: string[]; zeroUs?: number; windowName?: string } {
  const raw: RawPhase[] = [];
  const notes: string[] = [];
  const w = p.downtimeWindow;
  const windowName = w ? `downtime (${w.metric ?? 'window'})` : undefined;
  if (w && num(w.startUs) !== undefined && num(w.endUs) !== undefined)
    raw.push({ name: windowName!, startUs: w.startUs!, endUs: w.endUs!, side: 'downtime window' });
  const batches = (p.pinning?.batches ?? []).filter((b) => num(b.beginUs) !== undefined && num(b.commitUs) !== undefined && (b.dmaMaps ?? 0) > 0);
  batches.forEach((b, i) => {
    const name = `pinning${batches.length > 1 ? ` ${i + 1}` : ''}: ${b.dmaMaps} dma_map, ${bytesText(b.bytes ?? 0)}`;
    raw.push({ name, startUs: b.beginUs!, endUs: b.commitUs!, side: 'destination' });
    if ((b.overlapMs ?? 0) > 0) notes.push(`${name} overlaps the downtime window by ${b.overlapMs!.toFixed(1)} ms`);
  });
  if (num(p.driverOk?.timeUs) !== undefined) raw.push({ name: 'DRIVER_OK', startUs: p.driverOk!.timeUs!, endUs: p.driverOk!.timeUs!, side: 'destination' });
  const v = p.vrings;
  if (v)
    notes.push(
      v.ok === null || v.ok === undefined
        ? `vrings not counted: ${v.reason ?? 'unknown'}`
        : `vrings enabled ${v.enabled}/${v.expected}${v.problem ? ` (${v.problem})` : ''}`,
    );
  if (num(p.destinationQmpBlackoutMs) !== undefined) notes.push(`destination QMP blackout at start-up ${p.destinationQmpBlackoutMs!.toFixed(0)} ms`);
  return { raw, notes, zeroUs: num(w?.startUs), windowName };
}

/** Facts about a record's phases that a time axis cannot show (vring count, overlaps, QMP blackout). */
export function phaseNotes(record: IterationRecord): string[] {
  const value = record.extra?.phases;
  return isVdpaShape(value) ? vdpaRawPhases(value).notes : [];
}

/** QEMU's own downtime phases (harness/metrics/downtime-phases.ts: source stop ... device start), as timeline rows. */
function checkpointRawPhases(record: IterationRecord): RawPhase[] {
  const value = (record.extra?.downtimePhases as { phases?: unknown } | undefined)?.phases;
  return rawPhases(value).map((p) => ({ ...p, name: `checkpoint: ${p.name}` }));
}

/** The record's phases, plus the primary downtime window itself as the reference row; null when it has none. */
export function recordPhases(record: IterationRecord): Phase[] | null {
  const value = record.extra?.phases ?? (record.extra?.downtimePhases ? [] : undefined);
  if (isVdpaShape(value)) {
    const { raw: vdpaRaw, zeroUs, windowName } = vdpaRawPhases(value);
    const raw = [...vdpaRaw, ...checkpointRawPhases(record)];
    if (raw.length === 0) return null;
    const anchors = record.metricAnchors?.[record.primaryMetric];
    const zero = zeroUs ?? anchors?.start.timeUs ?? Math.min(...raw.map((p) => p.startUs!));
    const phases: Phase[] = [];
    if (!windowName && anchors) phases.push(downtimeWindow(record.primaryMetric, anchors));
    for (const p of raw)
      phases.push({ name: p.name, startMs: (p.startUs! - zero) / 1000, endMs: (p.endUs! - zero) / 1000, side: p.side, instant: p.startUs === p.endUs });
    return phases;
  }
  const raw = [...rawPhases(value), ...checkpointRawPhases(record)];
  if (raw.length === 0) return null;
  const anchors = record.metricAnchors?.[record.primaryMetric];
  const absolute = raw.filter((p) => p.startUs !== undefined);
  const zeroUs = anchors?.start.timeUs ?? (absolute.length ? Math.min(...absolute.map((p) => p.startUs!)) : 0);
  const phases: Phase[] = [];
  if (anchors) phases.push(downtimeWindow(record.primaryMetric, anchors));
  for (const p of raw) {
    const startMs = p.startUs !== undefined ? (p.startUs - zeroUs) / 1000 : p.startMs!;
    const endMs = p.endUs !== undefined ? (p.endUs - zeroUs) / 1000 : p.endMs!;
    phases.push({ name: p.name, startMs: Math.min(startMs, endMs), endMs: Math.max(startMs, endMs), side: p.side, instant: startMs === endMs });
  }
  return phases;
}

/** The primary metric's own span, drawn first: the bar every phase is read against. */
function downtimeWindow(metric: string, anchors: { start: { timeUs: number }; end: { timeUs: number } }): Phase {
  return { name: `downtime (${metric})`, startMs: 0, endMs: (anchors.end.timeUs - anchors.start.timeUs) / 1000, instant: false, side: 'downtime window' };
}
