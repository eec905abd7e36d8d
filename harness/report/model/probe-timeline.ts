/**
 * The probe timeline around the switchover (pure): what part of a migration's probe log to keep
 * (load.ts reads the file), and per cell one representative migration thinned for drawing.
 * Probe send and reply times are the prober's CLOCK_REALTIME; they are placed against the source
 * freeze of the record's primary downtime window as they are, without any clock correction.
 */
import { lostRuns, type ProbeLog } from '../../metrics/network.ts';
import type { IterationRecord } from '../../results/types.ts';
import type { CellSummary, MigrationRow, ProbeTimeline, ProbeTimelines, ProbeWindow, RunData } from './types.ts';

/** Kept before the source freeze and after the later of the resume and the end of the longest lost run. */
export const PROBE_MARGIN_MS = 300;
/** Answered probes are drawn as the longest reply time per bin of this width (by send time). */
export const PROBE_BIN_MS = 5;
/** networkDowntime's default, for records that do not say which reply timeout they used. */
const DEFAULT_REPLY_TIMEOUT_MS = 1000;

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The part of a parsed probe log around the record's switchover, or why it cannot be placed. */
export function probeWindow(log: ProbeLog, record: IterationRecord, file: string): ProbeWindow | { error: string } {
  const anchors = record.metricAnchors?.[record.primaryMetric];
  if (!anchors)
    return { error: `${file}: the record has no ${record.primaryMetric} window from the traces, so there is no source freeze to place the probes against` };
  if (log.probes.length === 0) return { error: `${file}: the prober sent no probes` };
  const network = record.extra?.network;
  const replyTimeoutMs = network && 'replyTimeoutMs' in network ? network.replyTimeoutMs : DEFAULT_REPLY_TIMEOUT_MS;
  const freezeUs = anchors.start.timeUs;
  const resumeUs = anchors.end.timeUs;
  const fromUs = freezeUs - PROBE_MARGIN_MS * 1000;
  const lastSentUs = log.probes[log.probes.length - 1].sentUs;
  const runs = lostRuns(log.probes, replyTimeoutMs * 1000);
  const longest = runs.filter((r) => r.fromUs >= fromUs).reduce<(typeof runs)[number] | null>((best, r) => (!best || r.probes > best.probes ? r : best), null);
  const toUs = Math.max(resumeUs, longest ? (longest.toUs ?? lastSentUs) : resumeUs) + PROBE_MARGIN_MS * 1000;
  const answered = log.probes
    .filter((p) => p.sentUs >= fromUs && p.sentUs <= toUs && p.receivedUs !== null && p.receivedUs - p.sentUs <= replyTimeoutMs * 1000)
    .map((p) => ({ sentUs: p.sentUs, replyMs: (p.receivedUs! - p.sentUs) / 1000 }));
  return {
    file,
    rateHz: log.rateHz,
    replyTimeoutMs,
    freezeUs,
    resumeUs,
    fromUs,
    toUs,
    answered,
    lostRuns: runs.filter((r) => r.fromUs <= toUs && (r.toUs ?? lastSentUs) >= fromUs),
    lateSends: log.lateSends,
    clock: record.clock?.method ?? 'unknown',
  };
}

/** The longest reply time per bin of send times, bins aligned to the source freeze. */
function replyBins(window: ProbeWindow): ProbeTimeline['bins'] {
  const bins = new Map<number, { maxReplyMs: number; answered: number }>();
  for (const p of window.answered) {
    const k = Math.floor((p.sentUs - window.freezeUs) / (PROBE_BIN_MS * 1000));
    const bin = bins.get(k);
    if (bin) {
      bin.maxReplyMs = Math.max(bin.maxReplyMs, p.replyMs);
      bin.answered++;
    } else bins.set(k, { maxReplyMs: p.replyMs, answered: 1 });
  }
  return [...bins.entries()].sort((a, b) => a[0] - b[0]).map(([k, b]) => ({ fromMs: k * PROBE_BIN_MS, ...b }));
}

function panel(cell: CellSummary, { row, entry: window }: { row: MigrationRow; entry: ProbeWindow }, chosen: string, primary: string): ProbeTimeline {
  const rel = (us: number) => (us - window.freezeUs) / 1000;
  return {
    cell: cell.key,
    label: cell.label,
    run: row.run,
    seq: row.seq,
    primaryMs: row.values[primary]!,
    chosen,
    file: window.file,
    binMs: PROBE_BIN_MS,
    bins: replyBins(window),
    lostRuns: window.lostRuns.map((r) => ({ fromMs: rel(r.fromUs), toMs: rel(r.toUs ?? window.toUs), probes: r.probes, open: r.toUs === null })),
    downtimeMs: { from: 0, to: rel(window.resumeUs) },
    rangeMs: { from: rel(window.fromUs), to: rel(window.toUs) },
    rateHz: window.rateHz,
    replyTimeoutMs: window.replyTimeoutMs,
    clock: window.clock,
  };
}

/** Per cell, the ok measured migration at the lower median of the primary metric among those with a usable probe log. */
export function probeTimelines(runs: RunData[], rows: MigrationRow[], cells: CellSummary[], primary: string): ProbeTimelines | undefined {
  if (!runs.some((r) => r.probeLogs)) return undefined;
  const entryOf = (row: MigrationRow) => runs.find((r) => r.runId === row.run)?.probeLogs?.[row.seq];
  const missing = rows.flatMap((row) => {
    const entry = entryOf(row);
    return entry && 'error' in entry ? [{ run: row.run, seq: row.seq, reason: entry.error }] : [];
  });
  const panels = cells.flatMap((cell) => {
    const ok = rows.filter((r) => r.cell === cell.key && !r.warmup && r.status === 'ok' && finite(r.values[primary]));
    const logged = ok
      .map((row) => ({ row, entry: entryOf(row) }))
      .filter((x): x is { row: MigrationRow; entry: ProbeWindow } => !!x.entry && !('error' in x.entry))
      .sort((a, b) => a.row.values[primary]! - b.row.values[primary]! || a.row.seq - b.row.seq);
    if (!logged.length) return [];
    const pick = logged[Math.floor((logged.length - 1) / 2)];
    const without = ok.length - logged.length;
    const chosen = `its ${primary} is the lower median of the ${logged.length} ok migration(s)${without ? ` with a probe log (${without} ok migration(s) of the cell have none)` : ' of the cell'}`;
    return [panel(cell, pick, chosen, primary)];
  });
  return { panels, missing };
}
