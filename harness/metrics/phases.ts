/**
 * vDPA phases of one migration, from the same trace events as the downtime (pure, no I/O):
 * where the destination pinned guest memory (listener batches and their dma_maps) and whether
 * that fell inside the downtime window, when the destination set DRIVER_OK, which vrings it
 * enabled against the 2N+1 a device with N queue pairs has, and its QMP blackout at start-up.
 */
import type { VdpaPhases } from '../results/types.ts';
import type { TraceEvent } from '../traces/parse.ts';
import type { TimeWindow } from './rules.ts';

/** Events the phases read; enable them in QEMU together with the metric's own. */
export const PHASE_EVENTS = [
  'vhost_vdpa_listener_begin_batch',
  'vhost_vdpa_listener_commit',
  'vhost_vdpa_dma_map',
  'vhost_vdpa_add_status',
  'vhost_vdpa_set_vring_enable_one',
  'vhost_vdpa_set_vring_ready',
  'vhost_vdpa_suspend',
  'vhost_vdpa_reset_device',
  'vhost_vdpa_set_features',
] as const;

const VIRTIO_CONFIG_S_DRIVER_OK = 0x4;

/** One listener batch; its shape, and VdpaPhases', is the record's (harness/results/record-parts.ts). */
export type PinningBatch = VdpaPhases['pinning']['batches'][number];
export type { VdpaPhases };

export interface PhaseInput {
  destination: readonly TraceEvent[];
  queuePairs: number;
  /** Destination clock minus source clock, µs. */
  clockOffsetUs: number;
  destinationWindow?: TimeWindow;
  /** The downtime span the overlap is measured against, source clock µs. */
  downtime?: { metric: string; startUs: number; endUs: number };
  destinationQmpReadyMs?: number | null;
}

function inWindow(e: TraceEvent, w: TimeWindow | undefined): boolean {
  return !w || ((w.fromUs === undefined || e.timeUs >= w.fromUs) && (w.toUs === undefined || e.timeUs <= w.toUs));
}

function field(args: string, name: string): string | undefined {
  return new RegExp(`(?:^|[ ,])${name}:? (0x[0-9a-fA-F]+|-?\\d+)`).exec(args)?.[1];
}

function num(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return text.startsWith('0x') ? Number.parseInt(text.slice(2), 16) : Number(text);
}

export function computePhases(input: PhaseInput): VdpaPhases {
  const offset = input.clockOffsetUs;
  const events = input.destination.filter((e) => inWindow(e, input.destinationWindow));
  const corrected = (e: TraceEvent) => e.timeUs - offset;
  const dt = input.downtime;
  const { batches, totalDmaMaps, totalBytes } = pinningBatches(events, corrected, dt);
  const main = batches.reduce<PinningBatch | null>((best, b) => (b.dmaMaps > 0 && (!best || b.bytes > best.bytes) ? b : best), null);

  return {
    queuePairs: input.queuePairs,
    downtimeWindow: dt ?? null,
    pinning: {
      batches,
      main,
      totalDmaMaps,
      totalBytes,
      overlapsDowntime: batches.some((b) => b.overlapsDowntime && b.dmaMaps > 0),
      overlapMs: batches.reduce((sum, b) => sum + (b.dmaMaps > 0 ? b.overlapMs : 0), 0),
    },
    driverOk: lastDriverOk(events, corrected, dt),
    vrings: countVrings(events, input.queuePairs),
    destinationQmpBlackoutMs: input.destinationQmpReadyMs ?? null,
  };
}

type DowntimeWindow = PhaseInput['downtime'];

/**
 * The memory listener's batches (begin … commit) with the DMA maps each pinned, and how much of
 * each falls inside the downtime window; maps outside any batch still count in the totals.
 */
function pinningBatches(
  events: readonly TraceEvent[],
  corrected: (e: TraceEvent) => number,
  dt: DowntimeWindow,
): { batches: PinningBatch[]; totalDmaMaps: number; totalBytes: number } {
  const batches: PinningBatch[] = [];
  let open: { begin: TraceEvent; maps: number; bytes: number } | undefined;
  let totalDmaMaps = 0;
  let totalBytes = 0;
  for (const e of events) {
    if (e.name === 'vhost_vdpa_listener_begin_batch') open = { begin: e, maps: 0, bytes: 0 };
    else if (e.name === 'vhost_vdpa_dma_map') {
      const size = num(field(e.args, 'size')) ?? 0;
      totalDmaMaps++;
      totalBytes += size;
      if (open) {
        open.maps++;
        open.bytes += size;
      }
    } else if (e.name === 'vhost_vdpa_listener_commit' && open) {
      const beginUs = corrected(open.begin);
      const commitUs = corrected(e);
      const overlapUs = dt ? Math.max(0, Math.min(dt.endUs, commitUs) - Math.max(dt.startUs, beginUs)) : 0;
      batches.push({
        beginUs,
        commitUs,
        durationMs: (commitUs - beginUs) / 1000,
        dmaMaps: open.maps,
        bytes: open.bytes,
        overlapsDowntime: overlapUs > 0,
        overlapMs: overlapUs / 1000,
        line: open.begin.line,
      });
      open = undefined;
    }
  }
  return { batches, totalDmaMaps, totalBytes };
}

/** The last status write that set DRIVER_OK: when the destination device was handed to the guest. */
function lastDriverOk(events: readonly TraceEvent[], corrected: (e: TraceEvent) => number, dt: DowntimeWindow): VdpaPhases['driverOk'] {
  let driverOk: VdpaPhases['driverOk'] = null;
  for (const e of events) {
    if (e.name !== 'vhost_vdpa_add_status') continue;
    const status = num(field(e.args, 'status'));
    if (status !== undefined && (status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0) {
      const timeUs = corrected(e);
      driverOk = { timeUs, line: e.line, afterDowntimeStartMs: dt ? (timeUs - dt.startUs) / 1000 : null };
    }
  }
  return driverOk;
}

/**
 * A device with N queue pairs has 2N data vrings and a control vring (idx 2N): all 2N+1 must be
 * enabled on the destination, or the guest's network is not fully back when the metric says so.
 * The control vring exists only when the guest negotiated VIRTIO_NET_F_CTRL_VQ (bit 17): iPXE,
 * for one, does not, and then 2N is complete.
 */
const VIRTIO_NET_F_CTRL_VQ = 1n << 17n;

/** Whether the destination's last vhost_vdpa_set_features acked a control queue; null when not traced. */
export function controlQueueNegotiated(events: readonly TraceEvent[]): boolean | null {
  const set = events.filter((e) => e.name === 'vhost_vdpa_set_features');
  const m = set.length ? /features: (0x[0-9a-fA-F]+)/.exec(set[set.length - 1].args) : null;
  return m ? (BigInt(m[1]) & VIRTIO_NET_F_CTRL_VQ) !== 0n : null;
}

/** When the destination enabled a vring (successfully), source clock µs: the ends of the "vring enables" phase. */
export function vringEnableTimes(events: readonly TraceEvent[], clockOffsetUs: number, window?: TimeWindow): number[] {
  return events
    .filter((e) => inWindow(e, window))
    .filter(
      (e) =>
        (e.name === 'vhost_vdpa_set_vring_enable_one' && num(field(e.args, 'enable')) === 1) ||
        (e.name === 'vhost_vdpa_set_vring_ready' && (num(field(e.args, 'r')) ?? 0) === 0),
    )
    .filter((e) => (num(field(e.args, 'r')) ?? 0) === 0)
    .map((e) => e.timeUs - clockOffsetUs);
}

export function countVrings(events: readonly TraceEvent[], queuePairs: number): VdpaPhases['vrings'] {
  const enableOne = events.filter((e) => e.name === 'vhost_vdpa_set_vring_enable_one');
  const ready = events.filter((e) => e.name === 'vhost_vdpa_set_vring_ready');
  const source = enableOne.length > 0 ? enableOne : ready;
  const eventName = enableOne.length > 0 ? 'vhost_vdpa_set_vring_enable_one' : 'vhost_vdpa_set_vring_ready';
  if (source.length === 0) return { ok: null, reason: 'no vhost_vdpa_set_vring_enable_one or vhost_vdpa_set_vring_ready event on the destination' };
  const expected = 2 * queuePairs + (controlQueueNegotiated(events) === false ? 0 : 1);
  const order: number[] = [];
  const failed: { idx: number; r: number }[] = [];
  for (const e of source) {
    const idx = num(field(e.args, 'idx'));
    if (idx === undefined) return { ok: null, reason: `${eventName} without an idx (QEMU 8.0 prints only the device): vrings cannot be counted` };
    if (eventName === 'vhost_vdpa_set_vring_enable_one' && num(field(e.args, 'enable')) !== 1) continue;
    const r = num(field(e.args, 'r')) ?? 0;
    if (r !== 0) {
      failed.push({ idx, r });
      continue;
    }
    if (!order.includes(idx)) order.push(idx);
  }
  const problems: string[] = [];
  if (failed.length > 0) problems.push(`enabling vring ${failed.map((f) => `${f.idx} (r ${f.r})`).join(', ')} failed`);
  const missing = Array.from({ length: expected }, (_, i) => i).filter((i) => !order.includes(i));
  const extra = order.filter((i) => i >= expected);
  if (order.length !== expected || missing.length > 0 || extra.length > 0) {
    problems.push(
      `${order.length} vrings enabled on the destination, expected ${expected} for ${queuePairs} queue pair${queuePairs === 1 ? '' : 's'}` +
        (missing.length ? ` (missing idx ${missing.join(', ')})` : '') +
        (extra.length ? ` (unexpected idx ${extra.join(', ')})` : ''),
    );
  }
  return {
    event: eventName,
    enabled: order.length,
    expected,
    order,
    failed,
    ok: problems.length === 0,
    ...(problems.length ? { problem: problems.join('; ') } : {}),
  };
}

/** Which candidate of the seed's rule supplied each endpoint, in words for reports. */
export function describeVdpaAnchors(startEvent: string, endEvent: string): { start: string; end: string; fallback: string | null } {
  const notes: string[] = [];
  if (startEvent === 'vhost_vdpa_reset_device') notes.push('source logged vhost_vdpa_reset_device: the device cannot suspend');
  if (endEvent === 'vhost_vdpa_set_vring_ready') notes.push('destination logged vhost_vdpa_set_vring_ready: QEMU 8.1-8.2 naming');
  return { start: startEvent, end: endEvent, fallback: notes.length ? notes.join('; ') : null };
}
