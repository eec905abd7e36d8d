/**
 * Network-visible downtime from a fixed-rate probe (pure). `network` is the longest run of
 * consecutive lost probes × the probe period: the time neither direction carried traffic, as the
 * seed defines downtime. `network-rx-gap` is the longest gap between two replies as they arrived,
 * which also counts replies the guest queued while it warmed up.
 */
import type { NetworkDowntime } from '../results/types.ts';

/** What each network metric means, for reports (the lab in a box records them beside the trace rules). */
export const NETWORK_METRIC_DESCRIPTIONS: Record<string, string> = {
  network:
    'network-visible downtime: longest run of consecutive lost probes × the probe period (neither direction carried traffic), from a fixed-rate ICMP prober in the peer namespace',
  'network-rx-gap':
    'longest gap between two probe replies as they arrived at the peer; also counts replies the guest queued while it warmed up, so it runs a steady offset above `network`',
};

export interface Probe {
  seq: number;
  sentUs: number;
  /** null: no reply. */
  receivedUs: number | null;
}

export interface ProbeLog {
  rateHz: number;
  /** Sends more than one period behind schedule (the prober was held up). */
  lateSends: number;
  realtimePriority: boolean;
  probes: Probe[];
}

/** The probe's figures of one migration; the record's shape (harness/results/record-parts.ts). */
export type { NetworkDowntime };

export class ProbeLogError extends Error {}

/** Where a run keeps its probe logs: `<run dir>/probes/NNNN.txt`, NNNN the migration's seq. */
export const PROBE_DIR = 'probes';
export const probeLogName = (seq: number) => `${String(seq).padStart(4, '0')}.txt`;

/** Parses the prober's output: a `# key=value ...` header, then `seq send_ns recv_ns|-1` lines. */
export function parseProbeLog(text: string): ProbeLog {
  const lines = text.split('\n');
  const header = lines.find((l) => l.startsWith('#'));
  if (!header) throw new ProbeLogError('probe log has no header line (the prober did not finish: killed, or failed to start)');
  const fields = Object.fromEntries([...header.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
  const rateHz = Number(fields.rate);
  if (!(rateHz > 0)) throw new ProbeLogError(`probe log header has no rate: ${header}`);
  const probes: Probe[] = [];
  lines.forEach((line, index) => {
    if (!line || line.startsWith('#')) return;
    const parts = line.split(' ');
    if (parts.length !== 3 || parts.some((p) => !/^-?\d+$/.test(p)))
      throw new ProbeLogError(`probe log line ${index + 1} is not "seq send_ns recv_ns": ${line.slice(0, 80)}`);
    const received = Number(parts[2]);
    probes.push({ seq: Number(parts[0]), sentUs: Math.round(Number(parts[1]) / 1000), receivedUs: received < 0 ? null : Math.round(received / 1000) });
  });
  return { rateHz, lateSends: Number(fields.late ?? 0), realtimePriority: fields.realtime === '1', probes };
}

/**
 * A probe counts as lost when no reply came within `replyTimeoutUs` of sending it (the prober
 * keeps listening that long after its last send). Throws when the guest was not answering at the
 * end (the outage never ended inside the log), and when more than `maxStrayLossPct` % of the
 * probes outside the longest outage were lost too (the guest could not keep pace), because then
 * no downtime can be stated.
 */
export function networkDowntime(log: ProbeLog, replyTimeoutUs = 1_000_000, maxStrayLossPct = 5): NetworkDowntime {
  const probes = log.probes;
  if (probes.length === 0) throw new ProbeLogError('the prober sent no probes');
  const timely = (p: Probe) => p.receivedUs !== null && p.receivedUs - p.sentUs <= replyTimeoutUs;
  const periodMs = 1000 / log.rateHz;
  const runs = lostRuns(probes, replyTimeoutUs);
  const unended = runs.find((r) => r.toUs === null);
  if (unended)
    throw new ProbeLogError(
      `the guest stopped answering: the last ${unended.probes} probes (${(unended.probes * periodMs).toFixed(0)} ms) got no reply within ${replyTimeoutUs / 1000} ms`,
    );
  const longest = runs.reduce<LostRun | null>((best, r) => (!best || r.probes > best.probes ? r : best), null);
  const lostRun: NetworkDowntime['lostRun'] = longest && {
    probes: longest.probes,
    ms: longest.probes * periodMs,
    firstSeq: longest.firstSeq,
    fromUs: longest.fromUs,
    toUs: longest.toUs!,
  };
  const answered = probes.filter((p) => p.receivedUs !== null);
  const arrivals = answered.map((p) => p.receivedUs!).sort((a, b) => a - b);
  let rxGap: NetworkDowntime['rxGap'] = null;
  for (let i = 1; i < arrivals.length; i++) {
    const gap = arrivals[i] - arrivals[i - 1];
    if (!rxGap || gap > rxGap.ms * 1000) rxGap = { ms: gap / 1000, fromUs: arrivals[i - 1], toUs: arrivals[i] };
  }
  const rtts = answered.map((p) => (p.receivedUs! - p.sentUs) / 1000).sort((a, b) => a - b);
  const rank = (q: number) => rtts[Math.min(rtts.length - 1, Math.floor(q * rtts.length))];
  const received = probes.filter(timely).length;
  const stray = probes.length - received - (lostRun?.probes ?? 0);
  const strayPct = (100 * stray) / Math.max(1, probes.length - (lostRun?.probes ?? 0));
  if (strayPct > maxStrayLossPct) {
    // a guest that cannot keep pace loses probes all along: its longest run is then noise, not the switchover
    throw new ProbeLogError(
      `the guest could not keep up with ${log.rateHz} probes/s: ${strayPct.toFixed(1)}% of the probes outside the longest outage got no reply within ${replyTimeoutUs / 1000} ms (limit ${maxStrayLossPct}%; median reply ${rtts.length ? rank(0.5).toFixed(1) : '-'} ms): the machine is too busy for a network-visible downtime; lower network.probe.rate or free the machine`,
    );
  }
  return {
    periodMs,
    replyTimeoutMs: replyTimeoutUs / 1000,
    sent: probes.length,
    received,
    lost: probes.length - received,
    lateReplies: answered.length - received,
    rttMs: rtts.length > 0 ? { p50: rank(0.5), p99: rank(0.99), max: rtts[rtts.length - 1] } : null,
    lostRun,
    rxGap,
    lateSends: log.lateSends,
  };
}

/** One run of consecutive probes without a timely reply: from the first lost send to the next answered send. */
export interface LostRun {
  fromUs: number;
  /** The next answered probe's send time; null when no probe was answered after the run (the log ended inside it). */
  toUs: number | null;
  probes: number;
  firstSeq: number;
}

/** Every run of consecutive lost probes (no reply within `replyTimeoutUs`), in log order: networkDowntime's longest run is one of them. */
export function lostRuns(probes: Probe[], replyTimeoutUs = 1_000_000): LostRun[] {
  const runs: LostRun[] = [];
  let start = -1;
  for (let i = 0; i <= probes.length; i++) {
    const p = probes[i];
    const lost = i < probes.length && (p.receivedUs === null || p.receivedUs - p.sentUs > replyTimeoutUs);
    if (lost && start < 0) start = i;
    if (!lost && start >= 0) {
      runs.push({ fromUs: probes[start].sentUs, toUs: i < probes.length ? p.sentUs : null, probes: i - start, firstSeq: probes[start].seq });
      start = -1;
    }
  }
  return runs;
}
