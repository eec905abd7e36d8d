/**
 * Downtime metrics as rules over trace events (pure, no I/O).
 * A rule's start is the LAST matching event on the source, its end the LAST matching event on the
 * destination, both inside the migration's window; destination times are corrected by the
 * measured clock offset (destination clock minus source clock).
 */
import { BUILTIN_METRICS, type Endpoint, type EventMatcher } from '../profile/metric-rules.ts';
import type { MetricRule } from '../profile/schema.ts';
import type { TraceEvent } from '../traces/parse.ts';

/** Trace events a set of rules needs enabled in QEMU. */
export function eventsNeeded(rules: Iterable<MetricRule>): string[] {
  const names = new Set<string>();
  for (const rule of rules) for (const m of [...rule.start.candidates, ...rule.end.candidates]) names.add(m.event);
  return [...names];
}

export interface TimeWindow {
  fromUs?: number;
  toUs?: number;
}

export interface MetricInput {
  source: readonly TraceEvent[];
  destination: readonly TraceEvent[];
  /** Destination clock minus source clock, µs. Destination times are corrected by it. */
  clockOffsetUs?: number;
  /** Each side's part of its file that belongs to this migration, in that side's own clock. */
  window?: { source?: TimeWindow; destination?: TimeWindow };
}

export interface Anchor {
  event: string;
  args: string;
  /** Source clock (destination anchors are already corrected). */
  timeUs: number;
  /** Raw time as written in the trace file. */
  rawTimeUs: number;
  line: number;
}

export type MetricResult =
  | { ok: true; downtimeUs: number; start: Anchor; end: Anchor; fallback: boolean }
  | { ok: false; reason: string; missing?: { side: 'source' | 'destination'; events: string[] } };

function inWindow(e: TraceEvent, w: TimeWindow | undefined): boolean {
  return !w || ((w.fromUs === undefined || e.timeUs >= w.fromUs) && (w.toUs === undefined || e.timeUs <= w.toUs));
}

const regexCache = new Map<string, RegExp>();
function matches(e: TraceEvent, m: EventMatcher): boolean {
  if (e.name !== m.event) return false;
  if (m.match === undefined) return true;
  let re = regexCache.get(m.match);
  if (!re) regexCache.set(m.match, (re = new RegExp(m.match)));
  return re.test(e.args);
}

function lastMatch(events: readonly TraceEvent[], m: EventMatcher, w: TimeWindow | undefined): TraceEvent | undefined {
  let found: TraceEvent | undefined;
  for (const e of events) if (matches(e, m) && inWindow(e, w) && (!found || e.timeUs >= found.timeUs)) found = e;
  return found;
}

function resolveEndpoint(events: readonly TraceEvent[], endpoint: Endpoint, w: TimeWindow | undefined) {
  const found = endpoint.candidates.map((m) => lastMatch(events, m, w));
  if (endpoint.combine === 'first-available') {
    const index = found.findIndex((e) => e !== undefined);
    return index === -1 ? undefined : { event: found[index]!, fallback: index > 0 };
  }
  let latest: TraceEvent | undefined;
  for (const e of found) if (e && (!latest || e.timeUs > latest.timeUs)) latest = e;
  return latest ? { event: latest, fallback: false } : undefined;
}

export function describeMatcher(m: EventMatcher): string {
  return m.match ? `${m.event} /${m.match}/` : m.event;
}

export function applyRule(rule: MetricRule, input: MetricInput): MetricResult {
  const offset = input.clockOffsetUs ?? 0;
  const start = resolveEndpoint(input.source, rule.start, input.window?.source);
  if (!start) {
    const events = rule.start.candidates.map(describeMatcher);
    return { ok: false, reason: `missing event on the source: ${events.join(' or ')}`, missing: { side: 'source', events } };
  }
  const end = resolveEndpoint(input.destination, rule.end, input.window?.destination);
  if (!end) {
    const events = rule.end.candidates.map(describeMatcher);
    return { ok: false, reason: `missing event on the destination: ${events.join(' or ')}`, missing: { side: 'destination', events } };
  }
  const startAnchor: Anchor = {
    event: start.event.name,
    args: start.event.args,
    timeUs: start.event.timeUs,
    rawTimeUs: start.event.timeUs,
    line: start.event.line,
  };
  const endAnchor: Anchor = {
    event: end.event.name,
    args: end.event.args,
    timeUs: end.event.timeUs - offset,
    rawTimeUs: end.event.timeUs,
    line: end.event.line,
  };
  const downtimeUs = endAnchor.timeUs - startAnchor.timeUs;
  if (downtimeUs < 0) {
    return {
      ok: false,
      reason: `end (${end.event.name}, line ${end.event.line}) precedes start (${start.event.name}, line ${start.event.line}) by ${-downtimeUs} µs: wrong window or clock offset`,
    };
  }
  return { ok: true, downtimeUs, start: startAnchor, end: endAnchor, fallback: start.fallback || end.fallback };
}

export function resolveRule(name: string, custom: Record<string, MetricRule> = {}): MetricRule {
  const rule = custom[name] ?? (BUILTIN_METRICS as Record<string, MetricRule>)[name];
  if (!rule) throw new Error(`unknown metric "${name}" (known: ${[...Object.keys(BUILTIN_METRICS), ...Object.keys(custom)].join(', ')})`);
  return rule;
}
