/**
 * Destination-minus-source clock offset. Two hosts on one machine share a clock; hosts on
 * different machines need a measured offset, or the cross-host downtime is off by their skew.
 */
import type { ClockEstimate } from '../results/types.ts';
import { harnessNowUs, persistentResponder } from './line-responder.ts';
import type { HostTransport } from './transport.ts';

export { harnessNowUs };

export interface ClockEstimator {
  /** Offset of `to`'s clock relative to `from`'s clock. */
  estimate(from: HostTransport, to: HostTransport): Promise<ClockEstimate>;
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

/** One exchange with a host: harness send time, host clock read, harness receive time (µs). */
export interface ClockSample {
  sentUs: number;
  remoteUs: number;
  receivedUs: number;
}

/** A host's clock minus the harness's clock. */
export interface HostClockEstimate {
  offsetUs: number;
  /** Half the round trip of the sample used: the host read its clock somewhere in it. */
  uncertaintyUs: number;
  roundTripUs: number;
  samples: number;
}

/**
 * NTP-style: the host read its clock between send and receive, so its offset lies within
 * ±RTT/2 of (remote − midpoint). The sample with the shortest round trip bounds it tightest.
 */
export function offsetFromSamples(samples: readonly ClockSample[]): HostClockEstimate {
  const valid = samples.filter((s) => Number.isFinite(s.sentUs) && Number.isFinite(s.remoteUs) && s.receivedUs >= s.sentUs);
  if (valid.length === 0) throw new Error('no usable clock samples');
  const best = valid.reduce((a, b) => (b.receivedUs - b.sentUs < a.receivedUs - a.sentUs ? b : a));
  const roundTripUs = best.receivedUs - best.sentUs;
  return {
    offsetUs: best.remoteUs - (best.sentUs + best.receivedUs) / 2,
    uncertaintyUs: roundTripUs / 2,
    roundTripUs,
    samples: valid.length,
  };
}

/** `to` minus `from`, both measured against the harness's clock: the uncertainties add up. */
export function pairOffset(from: HostClockEstimate, to: HostClockEstimate, method: string): ClockEstimate {
  return {
    offsetUs: Math.round(to.offsetUs - from.offsetUs),
    uncertaintyUs: Math.ceil(to.uncertaintyUs + from.uncertaintyUs),
    method,
  };
}

/**
 * Before and after one migration: the switchover lies between the two, so the midpoint is
 * used, widened by half their disagreement (drift, or a clock step during the migration).
 */
export function combineEstimates(before: ClockEstimate, after: ClockEstimate): ClockEstimate & { before: ClockEstimate; after: ClockEstimate } {
  return {
    offsetUs: Math.round((before.offsetUs + after.offsetUs) / 2),
    uncertaintyUs: Math.ceil(Math.max(before.uncertaintyUs, after.uncertaintyUs) + Math.abs(after.offsetUs - before.offsetUs) / 2),
    method: before.method,
    before,
    after,
  };
}

/** "1732590000.123456" (or with a locale's comma) → µs, without losing digits to floating point. */
export function parseEpochSeconds(text: string): number {
  const match = /^(\d+)(?:[.,](\d+))?$/.exec(text.trim());
  if (!match) throw new Error(`not a clock reading: ${JSON.stringify(text)}`);
  const fraction = (match[2] ?? '').padEnd(7, '0');
  return Number(match[1]) * 1e6 + Number(fraction.slice(0, 6)) + Number(`0.${fraction.slice(6)}`);
}

/** Answers each line on stdin with the host's wall clock; EPOCHREALTIME (bash 5) needs no fork. */
export const CLOCK_RESPONDER = ['bash', '-c', 'while IFS= read -r _; do t=$EPOCHREALTIME; [ -n "$t" ] || t=$(date +%s.%N); echo "$t"; done'];

/** One open exchange with a host's clock (a session running CLOCK_RESPONDER), or the harness's own. */
interface ClockProbe {
  sample(): Promise<ClockSample>;
  close(): Promise<void>;
}

async function openClockProbe(host: HostTransport, timeoutMs: number): Promise<ClockProbe> {
  if (host.kind === 'local' || host.kind === 'netns') {
    // the harness's own clock: nothing to measure
    return {
      sample: async () => {
        const now = harnessNowUs();
        return { sentUs: now, remoteUs: now, receivedUs: now };
      },
      close: async () => undefined,
    };
  }
  if (!host.stream) throw new Error(`${host.hostName}: the ${host.kind} transport cannot probe the host's clock`);
  // kept open across estimates: a sample is one round trip on an open session, not a session set-up
  const responder = persistentResponder(host, CLOCK_RESPONDER, timeoutMs);
  return {
    async sample() {
      const { answer, sentUs, receivedUs } = await responder.request().catch((error: Error) => {
        throw new Error(`${host.hostName}: clock probe: ${error.message}`);
      });
      return { sentUs, remoteUs: parseEpochSeconds(answer), receivedUs };
    },
    close: async () => undefined,
  };
}

/**
 * Samples two hosts' clocks alternately over already-open sessions, so neither host's samples
 * compete with the other's session set-up and both describe the same moment.
 */
export async function sampleClocks(a: HostTransport, b: HostTransport, count: number, timeoutMs = 10_000): Promise<[ClockSample[], ClockSample[]]> {
  const probes = await Promise.allSettled([openClockProbe(a, timeoutMs), openClockProbe(b, timeoutMs)]);
  try {
    const [pa, pb] = probes.map((p) => {
      if (p.status === 'rejected') throw p.reason;
      return p.value;
    });
    const samples: [ClockSample[], ClockSample[]] = [[], []];
    for (let i = 0; i < count; i++) {
      samples[0].push(await pa.sample());
      samples[1].push(await pb.sample());
    }
    return samples;
  } finally {
    await Promise.allSettled(probes.flatMap((p) => (p.status === 'fulfilled' ? [p.value.close()] : [])));
  }
}

/**
 * Measures hosts that do not share the harness's clock (ssh) with an NTP-style exchange and
 * falls back to the same-machine answer for hosts that do.
 */
export function exchangeClock(samplesPerHost = 16): ClockEstimator {
  return {
    async estimate(from, to) {
      if (sharesClock(from, to)) return sameMachineClock.estimate(from, to);
      const [a, b] = await sampleClocks(from, to, samplesPerHost);
      const fromOffset = offsetFromSamples(a);
      const toOffset = offsetFromSamples(b);
      return {
        ...pairOffset(fromOffset, toOffset, 'ntp-exchange'),
        roundTripUs: { from: Math.round(fromOffset.roundTripUs), to: Math.round(toOffset.roundTripUs) },
      };
    },
  };
}

/**
 * The estimate after a migration, combined with the one before it. A failed second estimate
 * keeps the first and says so: the migration itself is still measured.
 */
export async function estimateAfterMigration(estimator: ClockEstimator, before: ClockEstimate, from: HostTransport, to: HostTransport): Promise<ClockEstimate> {
  if (before.method === 'same-machine') return before;
  try {
    return combineEstimates(before, await estimator.estimate(from, to));
  } catch (error) {
    return { ...before, method: `${before.method}; after-migration estimate failed: ${(error as Error).message}` };
  }
}
