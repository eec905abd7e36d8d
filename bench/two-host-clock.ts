/**
 * The cross-host clock estimate against the two-host soft lab (`vdpa-bench softlab up --two-hosts`):
 * its uncertainty with one ssh exec per clock read, with one session opened per estimate, and with
 * the persistent responder the harness uses; with `--step <s>`, the offset before and after
 * stepping hostB's clock by that much, and whether their difference is the step within the
 * combined uncertainty.
 * Run: npx tsx bench/two-host-clock.ts [--estimates 10] [--step 2.5]
 */
import { quantile } from 'simple-statistics';
import { exchangeClock, offsetFromSamples, pairOffset, parseEpochSeconds, type ClockSample } from '../harness/hosts/clock.ts';
import type { ClockEstimate as ClockOffset } from '../harness/results/types.ts';
import { harnessNowUs, LineResponder } from '../harness/hosts/line-responder.ts';
import type { HostTransport } from '../harness/hosts/transport.ts';
import { stepClock } from '../harness/softlab/clock-step.ts';
import { pairTransport } from '../harness/softlab/pair.ts';
import { CLOCK_RESPONDER } from '../harness/hosts/clock.ts';

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const estimates = Number(arg('estimates') ?? 10);
const step = arg('step') === undefined ? undefined : Number(arg('step'));
const SAMPLES = 16;

function line(label: string, offsets: ClockOffset[]): void {
  const u = offsets.map((o) => o.uncertaintyUs);
  const off = offsets.map((o) => o.offsetUs);
  console.log(
    `${label.padEnd(44)} uncertainty median ${quantile(u, 0.5).toFixed(0)} µs (min ${Math.min(...u)}, max ${Math.max(...u)}); offset median ${quantile(off, 0.5).toFixed(0)} µs, spread ${Math.max(...off) - Math.min(...off)} µs (n=${offsets.length})`,
  );
}

/** One `ssh host date +%s.%N` per clock read: a channel set-up and a process per sample. */
async function execSamples(host: HostTransport): Promise<ClockSample[]> {
  const out: ClockSample[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const sentUs = harnessNowUs();
    const r = await host.run(['date', '+%s.%N']);
    out.push({ sentUs, remoteUs: parseEpochSeconds(r.stdout), receivedUs: harnessNowUs() });
  }
  return out;
}

/** A fresh session per estimate (what the harness did before the persistent responder). */
async function sessionSamples(host: HostTransport): Promise<ClockSample[]> {
  const responder = new LineResponder(host, CLOCK_RESPONDER);
  try {
    const out: ClockSample[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const { answer, sentUs, receivedUs } = await responder.request();
      out.push({ sentUs, remoteUs: parseEpochSeconds(answer), receivedUs });
    }
    return out;
  } finally {
    await responder.close();
  }
}

const started = Date.now();
const a = await pairTransport('hostA');
const b = await pairTransport('hostB');
try {
  await a.run(['true']);
  await b.run(['true']);
  if (step !== undefined) {
    const before = await exchangeClock(SAMPLES).estimate(a, b);
    await stepClock(b, step);
    const after = await exchangeClock(SAMPLES).estimate(a, b);
    const measured = after.offsetUs - before.offsetUs;
    const bound = before.uncertaintyUs + after.uncertaintyUs;
    console.log(`step hostB by ${step} s: offset before ${before.offsetUs} ± ${before.uncertaintyUs} µs, after ${after.offsetUs} ± ${after.uncertaintyUs} µs`);
    console.log(
      `measured step ${measured} µs, injected ${Math.round(step * 1e6)} µs, error ${measured - Math.round(step * 1e6)} µs, combined uncertainty ±${bound} µs: ${Math.abs(measured - step * 1e6) <= bound ? 'WITHIN' : 'OUTSIDE'}`,
    );
  }
  const viaExec: ClockOffset[] = [];
  const viaSession: ClockOffset[] = [];
  const viaResponder: ClockOffset[] = [];
  for (let i = 0; i < estimates; i++) {
    viaExec.push(pairOffset(offsetFromSamples(await execSamples(a)), offsetFromSamples(await execSamples(b)), 'exec'));
    viaSession.push(pairOffset(offsetFromSamples(await sessionSamples(a)), offsetFromSamples(await sessionSamples(b)), 'session'));
    viaResponder.push(await exchangeClock(SAMPLES).estimate(a, b));
  }
  console.log(
    `hostB − hostA clock offset, ${estimates} estimates of ${SAMPLES} samples per host each, load ${(await import('node:os')).loadavg()[0].toFixed(1)}`,
  );
  line('one ssh exec per sample', viaExec);
  line('one session per estimate', viaSession);
  line('persistent responder (harness default)', viaResponder);
} finally {
  await a.close();
  await b.close();
}
console.log(`took ${((Date.now() - started) / 1000).toFixed(0)} s`);
