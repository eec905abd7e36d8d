/**
 * Phases of one migration for the timeline chart (pure). Records may carry them in
 * `extra.phases` (added by the trace-phase analysis); the shapes accepted are
 *   [{ name, startUs, endUs }]                 µs since the epoch, source clock (like metric anchors)
 *   [{ name, startMs, endMs }]                 ms relative to the source freeze
 *   [{ name, atUs }] / [{ name, atMs }]        an instant (e.g. DRIVER_OK)
 *   { <name>: { startUs, endUs } | ... }       the same keyed by name
 * with optional `side`/`host`. Anything else is skipped, not guessed at.
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

/** The record's phases, plus the primary downtime window itself as the reference row; null when it has none. */
export function recordPhases(record: IterationRecord): Phase[] | null {
  const raw = rawPhases(record.extra?.phases);
  if (raw.length === 0) return null;
  const anchors = record.metricAnchors?.[record.primaryMetric];
  const absolute = raw.filter((p) => p.startUs !== undefined);
  const zeroUs = anchors?.start.timeUs ?? (absolute.length ? Math.min(...absolute.map((p) => p.startUs!)) : 0);
  const phases: Phase[] = [];
  if (anchors) {
    phases.push({ name: `downtime (${record.primaryMetric})`, startMs: 0, endMs: (anchors.end.timeUs - anchors.start.timeUs) / 1000, instant: false });
  }
  for (const p of raw) {
    const startMs = p.startUs !== undefined ? (p.startUs - zeroUs) / 1000 : p.startMs!;
    const endMs = p.endUs !== undefined ? (p.endUs - zeroUs) / 1000 : p.endMs!;
    phases.push({ name: p.name, startMs: Math.min(startMs, endMs), endMs: Math.max(startMs, endMs), side: p.side, instant: startMs === endMs });
  }
  return phases;
}
