/** The probe timeline around the switchover as Vega-Lite specs (pure): one chart per cell's representative migration. */
import type { TopLevelSpec } from 'vega-lite';
import { axisScale, config, VEGA_LITE_SCHEMA } from './chart-style.ts';
import type { ChartSpec } from './charts.ts';
import type { ProbeTimeline, Summary } from '../../model/types.ts';

const ANSWERED_COLOUR = '#0072B2';
const LOST_COLOUR = '#D55E00';
// drawn as an outline over the lost probes: where the two agree, both stay visible
const WINDOW_COLOUR = '#000000';

const clockText = (clock: string) =>
  `Probe times are the prober's CLOCK_REALTIME, placed against the source trace's freeze as they are (no clock correction; the record's clock method: ${clock}).`;

function caption(p: ProbeTimeline, primary: string, runs: number): string {
  const answered = p.bins.reduce((n, b) => n + b.answered, 0);
  const longest = p.lostRuns.reduce<ProbeTimeline['lostRuns'][number] | null>((best, r) => (!best || r.probes > best.probes ? r : best), null);
  const lost = p.lostRuns.length
    ? `Red: each of the ${p.lostRuns.length} run(s) of consecutive lost probes (no reply within ${p.replyTimeoutMs} ms), exact from the first lost send to the next answered send; the longest, ${longest!.probes} probe(s), from ${longest!.fromMs.toFixed(1)} to ${longest!.toMs.toFixed(1)} ms${longest!.open ? ' (the log ended inside it)' : ''}.`
    : `No probe was lost in this window (reply timeout ${p.replyTimeoutMs} ms).`;
  return `Migration ${p.seq}${runs > 1 ? ` of ${p.run}` : ''}, shown because ${p.chosen} (${p.primaryMs.toFixed(1)} ms). Probes at ${p.rateHz}/s from ${p.file}; x is ms from the source freeze. Points: the longest reply time among the probes sent in each ${p.binMs} ms bin (${answered} answered probes thinned to ${p.bins.length} bins). ${lost} Black dashed outline: the ${primary} downtime window (0 to ${p.downtimeMs.to.toFixed(1)} ms); dashed line: the source freeze. ${clockText(p.clock)}`;
}

function spec(p: ProbeTimeline, primary: string): TopLevelSpec {
  const windowLabel = `${primary} downtime window`;
  const lostLabel = 'lost probes';
  const x = { type: 'quantitative', title: 'ms from the source freeze', scale: { domain: [p.rangeMs.from, p.rangeMs.to], nice: false } };
  const y = axisScale(p.bins.map((b) => b.maxReplyMs));
  const colour = { field: 'what', type: 'nominal', scale: { domain: [windowLabel, lostLabel], range: [WINDOW_COLOUR, LOST_COLOUR] }, title: null };
  const span = (values: { from: number; to: number; what: string }[], mark: Record<string, unknown>) => ({
    data: { values },
    mark: { type: 'rect', clip: true, ...mark },
    encoding: { x: { field: 'from', ...x }, x2: { field: 'to' }, color: colour },
  });
  const lost = p.lostRuns.map((r) => ({ from: Math.max(r.fromMs, p.rangeMs.from), to: Math.min(r.toMs, p.rangeMs.to), what: lostLabel }));
  return {
    $schema: VEGA_LITE_SCHEMA,
    config,
    width: 640,
    height: 200,
    layer: [
      span(lost, { opacity: 0.55 }),
      span([{ from: p.downtimeMs.from, to: p.downtimeMs.to, what: windowLabel }], { filled: false, strokeWidth: 1.5, strokeDash: [5, 3] }),
      {
        data: { values: p.bins.map((b) => ({ at: b.fromMs + p.binMs / 2, reply: b.maxReplyMs, answered: b.answered })) },
        mark: { type: 'point', filled: true, size: 22, color: ANSWERED_COLOUR, clip: true },
        encoding: {
          x: { field: 'at', ...x },
          y: { field: 'reply', type: 'quantitative', title: `longest reply per ${p.binMs} ms, ms${y.note}`, scale: y.scale },
        },
      },
      {
        data: { values: [{ at: 0 }] },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#555' },
        encoding: { x: { field: 'at', type: 'quantitative' } },
      },
    ],
  } as TopLevelSpec;
}

export function probeCharts(summary: Summary): ChartSpec[] {
  return (summary.probeTimelines?.panels ?? []).map((p, i) => ({
    id: `probes-${i + 1}`,
    title: `Probes around the switchover: ${p.label}, migration ${p.seq}`,
    caption: caption(p, summary.primary, summary.runs.length),
    spec: spec(p, summary.primary),
  }));
}
