/**
 * vdpa vs vdpa-ready (pure). The seed's rule ends at the destination's last vring enable; in QEMU
 * 11.x the vrings are enabled before DRIVER_OK and before the device start that re-pins memory,
 * so the seed's number can end before the device can move data. vdpa-ready ends at the later of
 * the two. A migration where they differ by more than the tolerance is flagged, never averaged
 * away.
 */

import type { ReadyGap } from '../results/types.ts';

/** The record's shape (harness/results/record-parts.ts). */
export type { ReadyGap };

export function readyGap(metrics: Readonly<Record<string, number | null>>, tolerancePct: number, floorMs = 1): ReadyGap | null {
  const vdpaMs = metrics['vdpa'];
  const vdpaReadyMs = metrics['vdpa-ready'];
  if (vdpaMs === null || vdpaMs === undefined || vdpaReadyMs === null || vdpaReadyMs === undefined) return null;
  const gapMs = vdpaReadyMs - vdpaMs;
  const allowed = Math.max(floorMs, (Math.abs(vdpaMs) * tolerancePct) / 100);
  return { vdpaMs, vdpaReadyMs, gapMs, tolerancePct, floorMs, flagged: Math.abs(gapMs) > allowed };
}

export function describeReadyGap(g: ReadyGap): string {
  return `vdpa-ready ${g.vdpaReadyMs.toFixed(1)} ms vs vdpa ${g.vdpaMs.toFixed(1)} ms: the device was ready ${g.gapMs.toFixed(1)} ms after the last vring enable (tolerance ${g.tolerancePct}%)`;
}
