/** Network-visible downtime from the fixed-rate probe log (pure). */
import test from 'ava';
import { networkDowntime, parseProbeLog, ProbeLogError, type ProbeLog } from '../../harness/metrics/network.ts';

/** 1 kHz probes from t=0; `lostFrom..lostTo` (seq) unanswered; others answered after rttUs. */
function log(count: number, lost: [number, number][], rttUs = 200, late: Record<number, number> = {}): ProbeLog {
  const base = 1_795_000_000_000_000;
  const probes = Array.from({ length: count }, (_, seq) => {
    const sentUs = base + seq * 1000;
    const isLost = lost.some(([a, b]) => seq >= a && seq <= b);
    return { seq, sentUs, receivedUs: isLost ? null : sentUs + (late[seq] ?? rttUs) };
  });
  return { rateHz: 1000, lateSends: 0, realtimePriority: true, probes };
}

test('network is the longest run of lost probes × period; lost counts every lost probe', (t) => {
  const result = networkDowntime(
    log(3000, [
      [1000, 1086],
      [2000, 2009],
    ]),
  );
  t.is(result.lost, 87 + 10);
  t.is(result.sent, 3000);
  t.is(result.lostRun!.probes, 87);
  t.is(result.lostRun!.ms, 87);
  t.is(result.lostRun!.firstSeq, 1000);
  t.is(result.lateReplies, 0);
  // replies arrive at 999 and 1087 (+0.2 ms): the gap is 88 ms
  t.is(result.rxGap!.ms, 88);
});

test('replies queued in the guest stretch the rx gap beyond the lost run', (t) => {
  // probes 500..540 answered only when the guest resumes at probe 560 (+0.2 ms)
  const late: Record<number, number> = {};
  for (let seq = 500; seq <= 540; seq++) late[seq] = (560 - seq) * 1000 + 200;
  const result = networkDowntime(log(2000, [[541, 559]], 200, late));
  t.is(result.lostRun!.probes, 19);
  t.true(result.rxGap!.ms > 59, String(result.rxGap!.ms));
});

test('a reply later than the reply timeout counts as lost and is reported late', (t) => {
  const late: Record<number, number> = { 10: 1_500_000, 11: 1_400_000 };
  const result = networkDowntime(log(3000, [], 200, late), 1_000_000);
  t.is(result.lost, 2);
  t.is(result.lateReplies, 2);
  t.is(result.lostRun!.probes, 2);
  t.is(result.rttMs!.max, 1500);
});

test('a guest too slow for the probe rate gives no figure, with the reason', (t) => {
  // besides a 100-probe outage, every tenth probe goes unanswered: the guest cannot keep pace
  const stray: [number, number][] = Array.from({ length: 290 }, (_, i) => [300 + i * 10, 300 + i * 10]);
  t.throws(() => networkDowntime(log(3200, [[100, 199], ...stray])), {
    instanceOf: ProbeLogError,
    message: /could not keep up with 1000 probes\/s: 9\.4% of the probes outside/,
  });
  t.is(networkDowntime(log(3200, [[100, 199], ...stray]), 1_000_000, 15).lostRun!.probes, 100);
  t.is(
    networkDowntime(
      log(3200, [
        [100, 199],
        [500, 502],
      ]),
    ).lostRun!.probes,
    100,
    'a few stray losses are fine',
  );
});

test('no lost probe: the network outage is below one period', (t) => {
  const result = networkDowntime(log(500, []));
  t.is(result.lostRun, null);
  t.is(result.lost, 0);
});

test('a guest that never answers again is an error, not a downtime', (t) => {
  t.throws(() => networkDowntime(log(2000, [[1500, 1999]])), { instanceOf: ProbeLogError, message: /stopped answering: the last 500 probes/ });
  t.throws(() => networkDowntime({ rateHz: 1000, lateSends: 0, realtimePriority: false, probes: [] }), { message: /sent no probes/ });
});

test('the prober output parses; a torn or headerless log is an error naming the line', (t) => {
  const parsed = parseProbeLog('# rate=1000 target=10.98.0.2 sent=2 late=3 realtime=1\n0 1795000000000000000 1795000000000200000\n1 1795000000001000000 -1\n');
  t.is(parsed.rateHz, 1000);
  t.is(parsed.lateSends, 3);
  t.true(parsed.realtimePriority);
  t.deepEqual(parsed.probes[1], { seq: 1, sentUs: 1795000000001000, receivedUs: null });
  t.is(parsed.probes[0].receivedUs! - parsed.probes[0].sentUs, 200);
  t.throws(() => parseProbeLog(''), { message: /no header line/ });
  t.throws(() => parseProbeLog('# rate=1000\n0 12 x\n'), { message: /line 2 is not/ });
});
