/**
 * Downtime metrics as rules over trace events (pure, no I/O).
 * A rule's start is the LAST matching event on the source, its end the LAST matching event on the
 * destination, both inside the migration's window; destination times are corrected by the
 * measured clock offset (destination clock minus source clock).
 */
import type { TraceEvent } from '../traces/parse.ts';

export interface EventMatcher {
  event: string;
  /** Regular expression over the event's formatted arguments. */
  match?: string;
}

export interface Endpoint {
  candidates: EventMatcher[];
  /** first-available: fallbacks in order; latest: the latest of all candidates present. */
  combine: 'first-available' | 'latest';
}

export interface MetricRule {
  description?: string;
  start: Endpoint;
  end: Endpoint;
}

const VRING_ENABLED: EventMatcher = { event: 'vhost_vdpa_set_vring_enable_one', match: '\\benable: 1\\b' };
/** vhost_vdpa_add_status prints `status: 0x%x`; DRIVER_OK is bit 0x4. */
const DRIVER_OK: EventMatcher = { event: 'vhost_vdpa_add_status', match: 'status: 0x[0-9a-fA-F]*[4567cdefCDEF]$' };

export const BUILTIN_METRICS = {
  runstate: {
    description: 'Source runstate -> finish-migrate to destination inmigrate -> running (any QEMU, incl. 7.2)',
    start: { candidates: [{ event: 'runstate_set', match: 'new_state \\d+ \\(finish-migrate\\)' }], combine: 'first-available' },
    end: { candidates: [{ event: 'runstate_set', match: '\\(inmigrate\\) new_state \\d+ \\(running\\)' }], combine: 'first-available' },
  },
  checkpoint: {
    description: 'QEMU >= 8.2 downtime checkpoints: src-downtime-start to dst-precopy-bh-vm-started',
    start: { candidates: [{ event: 'vmstate_downtime_checkpoint', match: '^src-downtime-start$' }], combine: 'first-available' },
    end: { candidates: [{ event: 'vmstate_downtime_checkpoint', match: '^dst-precopy-bh-vm-started$' }], combine: 'first-available' },
  },
  vdpa: {
    description: 'The seed: last vhost_vdpa_suspend on the source to last vring enable on the destination',
    start: { candidates: [{ event: 'vhost_vdpa_suspend' }, { event: 'vhost_vdpa_reset_device' }], combine: 'first-available' },
    end: { candidates: [VRING_ENABLED, { event: 'vhost_vdpa_set_vring_ready' }], combine: 'first-available' },
  },
  'vdpa-ready': {
    description: 'As vdpa, but ends at the later of the last vring enable and the last DRIVER_OK on the destination',
    start: { candidates: [{ event: 'vhost_vdpa_suspend' }, { event: 'vhost_vdpa_reset_device' }], combine: 'first-available' },
    end: { candidates: [VRING_ENABLED, { event: 'vhost_vdpa_set_vring_ready' }, DRIVER_OK], combine: 'latest' },
  },
} satisfies Record<string, MetricRule>;

export type BuiltinMetric = keyof typeof BUILTIN_METRICS;

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
  const startAnchor: Anchor = { event: start.event.name, args: start.event.args, timeUs: start.event.timeUs, rawTimeUs: start.event.timeUs, line: start.event.line };
  const endAnchor: Anchor = { event: end.event.name, args: end.event.args, timeUs: end.event.timeUs - offset, rawTimeUs: end.event.timeUs, line: end.event.line };
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
