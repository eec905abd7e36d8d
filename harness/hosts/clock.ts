/**
 * Destination-minus-source clock offset. Two hosts on one machine share a clock; hosts on
 * different machines need a measured offset, or the cross-host downtime is off by their skew.
 */
import type { HostTransport } from './transport.ts';

export interface ClockOffset {
  offsetUs: number;
  uncertaintyUs: number;
  method: string;
}

export interface ClockEstimator {
  /** Offset of `to`'s clock relative to `from`'s clock. */
  estimate(from: HostTransport, to: HostTransport): Promise<ClockOffset>;
}

export function sharesClock(a: HostTransport, b: HostTransport): boolean {
  return a === b || ((a.kind === 'local' || a.kind === 'netns') && (b.kind === 'local' || b.kind === 'netns'));
}

export const sameMachineClock: ClockEstimator = {
  async estimate(from, to) {
    if (!sharesClock(from, to)) {
      throw new Error(`${from.hostName} and ${to.hostName} are different machines: their clock offset must be measured`);
    }
    return { offsetUs: 0, uncertaintyUs: 0, method: 'same-machine' };
  },
};
