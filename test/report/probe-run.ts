/**
 * A synthetic lab-in-a-box run directory with probe logs: the committed example run's records and
 * manifest, plus one probes/NNNN.txt per migration in the ICMP prober's exact output format
 * (harness/labbox/icmp-prober.c: a `# rate=... target=... sent=... late=... realtime=...` header,
 * then `seq send_realtime_ns recv_realtime_ns|-1`). Each log's outage is placed from the record's
 * own source freeze to a little after its resume, so the expectations follow from the generator.
 */
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROBE_DIR, probeLogName } from '../../harness/metrics/network.ts';
import type { IterationRecord } from '../../harness/results/types.ts';

export const EXAMPLE = fileURLToPath(new URL('../../docs/examples/lab-in-a-box', import.meta.url));

export interface GeneratedLog {
  seq: number;
  freezeUs: number;
  resumeUs: number;
  /** Every probe as written, µs. */
  probes: { sentUs: number; receivedUs: number | null }[];
  /** The runs of lost probes the generator made, µs: from the first lost send to the next answered send. */
  lostRuns: { fromUs: number; toUs: number; probes: number }[];
}

const PERIOD_US = 1000;

/** One migration's log: 1 kHz from `beforeMs` before the freeze to `afterMs` after the resume. */
export function probeLog(record: IterationRecord, beforeMs = 2000, afterMs = 1500): { text: string; log: GeneratedLog } {
  const anchors = record.metricAnchors![record.primaryMetric];
  const freezeUs = anchors.start.timeUs;
  const resumeUs = anchors.end.timeUs;
  // the guest answers again a few ms after the resume (varies by seq); then its queued replies arrive late
  const outageEndUs = resumeUs + (3 + (record.seq % 5)) * 1000;
  const strayLostUs = [freezeUs - 1000_000, freezeUs - 100_000];
  const probes: GeneratedLog['probes'] = [];
  for (let sentUs = freezeUs - beforeMs * 1000 + 137; sentUs < resumeUs + afterMs * 1000; sentUs += PERIOD_US) {
    const lost = (sentUs >= freezeUs && sentUs < outageEndUs) || strayLostUs.some((s) => sentUs >= s && sentUs < s + PERIOD_US);
    const afterOutage = Math.floor((sentUs - outageEndUs) / PERIOD_US);
    const replyUs = afterOutage >= 0 && afterOutage < 20 ? 40_000 - afterOutage * 2000 : 80 + (probes.length % 7) * 10;
    probes.push({ sentUs, receivedUs: lost ? null : sentUs + replyUs });
  }
  const lostRuns: GeneratedLog['lostRuns'] = [];
  probes.forEach((p, i) => {
    if (p.receivedUs !== null) return;
    const last = lostRuns[lostRuns.length - 1];
    if (last && last.toUs === p.sentUs) {
      last.toUs = probes[i + 1].sentUs;
      last.probes++;
    } else lostRuns.push({ fromUs: p.sentUs, toUs: probes[i + 1].sentUs, probes: 1 });
  });
  const ns = (us: number) => `${BigInt(us) * 1000n + 250n}`;
  const lines = probes.map((p, i) => `${i} ${ns(p.sentUs)} ${p.receivedUs === null ? -1 : ns(p.receivedUs)}`);
  const text = `# rate=1000 target=10.99.0.2 sent=${probes.length} late=0 realtime=1\n${lines.join('\n')}\n`;
  return { text, log: { seq: record.seq, freezeUs, resumeUs, probes, lostRuns } };
}

export const probeFile = (seq: number) => join(PROBE_DIR, probeLogName(seq));

/** A copy of the example run with a probe log per migration; returns the directory and what was generated. */
export async function probeRun(records: IterationRecord[], beforeMs?: number, afterMs?: number): Promise<{ dir: string; logs: Map<number, GeneratedLog> }> {
  const dir = await mkdtemp(join(tmpdir(), 'vdpa-bench-probes-'));
  // each record names its log where the run wrote it, as if the run directory had been moved since
  // (the example's own paths are those of the machine that ran it, and may exist on this one)
  const lines = (await readFile(join(EXAMPLE, 'iterations.ndjson'), 'utf8')).split('\n').filter(Boolean);
  const relocated = lines.map((line) => {
    const record = JSON.parse(line) as IterationRecord;
    const network = record.extra?.network;
    return JSON.stringify(
      network ? { ...record, extra: { ...record.extra, network: { ...network, log: join(dir, 'where-it-ran', probeFile(record.seq)) } } } : record,
    );
  });
  await writeFile(join(dir, 'iterations.ndjson'), `${relocated.join('\n')}\n`);
  await cp(join(EXAMPLE, 'manifest.json'), join(dir, 'manifest.json'));
  await mkdir(join(dir, 'probes'));
  const logs = new Map<number, GeneratedLog>();
  for (const record of records) {
    const { text, log } = probeLog(record, beforeMs, afterMs);
    await writeFile(join(dir, probeFile(record.seq)), text);
    logs.set(record.seq, log);
  }
  return { dir, logs };
}
