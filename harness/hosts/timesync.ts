/**
 * How a host keeps time (chrony, PTP), for the manifest: a cross-host downtime is only as good
 * as the two clocks, and the measured offset says nothing about how they drift between runs.
 */
import type { TimeSyncFacts } from '../results/types.ts';
import type { HostTransport } from './transport.ts';

const TIMESYNC_SCRIPT = String.raw`
section() { echo "@@ $1"; }
if command -v chronyc >/dev/null 2>&1; then section chrony; chronyc -n tracking 2>&1 | head -20; fi
for daemon in ptp4l phc2sys; do pgrep -x "$daemon" >/dev/null 2>&1 && { section "running"; echo "$daemon"; }; done
if pgrep -x ptp4l >/dev/null 2>&1 && command -v pmc >/dev/null 2>&1; then section pmc; timeout 5 pmc -u -b 0 'GET TIME_STATUS_NP' 2>&1 | head -20; fi
section phc; ls /dev 2>/dev/null | grep -c '^ptp[0-9]'
if command -v timedatectl >/dev/null 2>&1; then section timedatectl; timedatectl show 2>/dev/null | grep -E '^(NTP|NTPSynchronized)='; fi
true
`;

/** The manifest's shape (harness/results/manifest-parts.ts). */
export type { TimeSyncFacts };
type ChronyTracking = Exclude<NonNullable<TimeSyncFacts['chrony']>, { error: string }>;

export async function gatherTimeSync(host: HostTransport): Promise<TimeSyncFacts> {
  const result = await host.script(TIMESYNC_SCRIPT, [], { timeoutMs: 20_000, allowFailure: true });
  return parseTimeSync(result.stdout);
}

function sections(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split('\n')) {
    const header = /^@@ (\S+)$/.exec(line);
    if (header) {
      current = out.get(header[1]) ?? [];
      out.set(header[1], current);
    } else if (current && line.trim()) current.push(line);
  }
  return out;
}

/** `0.000001234 seconds slow of NTP time` → -1.234; `-0.000002345 seconds` → -2.345. */
function secondsToUs(value: string | undefined): number | undefined {
  const m = value && /^([+-]?\d+(?:\.\d+)?) seconds(?: (fast|slow))?/.exec(value.trim());
  if (!m) return undefined;
  const us = Number(m[1]) * 1e6;
  return Math.round((m[2] === 'slow' ? -us : us) * 1000) / 1000;
}

export function parseChronyTracking(lines: readonly string[]): ChronyTracking | { error: string } {
  const fields = new Map<string, string>();
  for (const line of lines) {
    const m = /^([A-Za-z][A-Za-z ()]*?)\s*: (.*)$/.exec(line);
    if (m) fields.set(m[1], m[2]);
  }
  if (!fields.has('Reference ID')) return { error: lines.join(' ').trim() || 'no output from chronyc tracking' };
  const stratum = Number(fields.get('Stratum'));
  return {
    referenceId: fields.get('Reference ID'),
    stratum: Number.isFinite(stratum) ? stratum : undefined,
    systemTimeUs: secondsToUs(fields.get('System time')),
    lastOffsetUs: secondsToUs(fields.get('Last offset')),
    rmsOffsetUs: secondsToUs(fields.get('RMS offset')),
    leapStatus: fields.get('Leap status'),
  };
}

export function parseTimeSync(text: string): TimeSyncFacts {
  const s = sections(text);
  const facts: TimeSyncFacts = { phcDevices: Number(s.get('phc')?.[0] ?? 0) || 0, summary: '' };
  if (s.has('chrony')) facts.chrony = parseChronyTracking(s.get('chrony')!);
  const daemons = s.get('running') ?? [];
  if (daemons.length > 0) {
    facts.ptp = { daemons };
    for (const line of s.get('pmc') ?? []) {
      const m = /^\s*(master_offset|gmPresent|gmIdentity)\s+(\S+)/.exec(line);
      if (m?.[1] === 'master_offset') facts.ptp.masterOffsetNs = Number(m[2]);
      if (m?.[1] === 'gmPresent') facts.ptp.gmPresent = m[2] === 'true';
      if (m?.[1] === 'gmIdentity') facts.ptp.gmIdentity = m[2];
    }
  }
  for (const line of s.get('timedatectl') ?? []) if (line.startsWith('NTPSynchronized=')) facts.ntpSynchronized = line.endsWith('=yes');
  facts.summary = summarize(facts);
  return facts;
}

function summarize(f: TimeSyncFacts): string {
  const parts: string[] = [];
  if (f.ptp) parts.push(`PTP (${f.ptp.daemons.join(', ')}${f.ptp.masterOffsetNs !== undefined ? `, master offset ${f.ptp.masterOffsetNs} ns` : ''})`);
  if (f.chrony && 'error' in f.chrony) parts.push(`chrony not answering (${f.chrony.error})`);
  else if (f.chrony) parts.push(`chrony (stratum ${f.chrony.stratum}, ${f.chrony.systemTimeUs ?? '?'} µs from NTP, leap ${f.chrony.leapStatus ?? '?'})`);
  if (f.ntpSynchronized !== undefined) parts.push(`NTP synchronized: ${f.ntpSynchronized ? 'yes' : 'no'}`);
  if (f.phcDevices > 0) parts.push(`${f.phcDevices} PTP hardware clock(s)`);
  return parts.length > 0 ? parts.join('; ') : 'no time synchronisation found (no chrony, ptp4l or timedatectl)';
}
