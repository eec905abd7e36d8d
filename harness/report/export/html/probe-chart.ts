/** The probe timeline around the switchover as Vega-Lite specs (pure): one chart per cell's representative migration. */
import type { TopLevelSpec } from 'vega-lite';
import { axisScale, capitalised, colourName, config, Layers, REFERENCE_COLOUR, VEGA_LITE_SCHEMA } from './chart-style.ts';
import type { ChartSpec } from './charts.ts';
import type { ProbeTimeline, Summary } from '../../model/types.ts';

const ANSWERED_COLOUR = '#0072B2';
const LOST_COLOUR = '#D55E00';
// drawn as an outline over the lost probes: where the two agree, both stay visible
const WINDOW_COLOUR = '#000000';

const clockText = (clock: string) =>
  `Probe times are the prober's CLOCK_REALTIME, placed against the source trace's freeze as they are (no clock correction; the record's clock method: ${clock}).`;

function intro(p: ProbeTimeline, runs: number): string {
  const answered = p.bins.reduce((n, b) => n + b.answered, 0);
  return `Migration ${p.seq}${runs > 1 ? ` of ${p.run}` : ''}, shown because ${p.chosen} (${p.primaryMs.toFixed(1)} ms). Probes at ${p.rateHz}/s from ${p.file}; x is ms from the source freeze. ${answered} answered probes thinned to ${p.bins.length} bins of ${p.binMs} ms.`;
}

function lostText(p: ProbeTimeline): string {
  const longest = p.lostRuns.reduce<ProbeTimeline['lostRuns'][number] | null>((best, r) => (!best || r.probes > best.probes ? r : best), null)!;
  return `${capitalised(colourName(LOST_COLOUR))} bands: each of the ${p.lostRuns.length} run(s) of consecutive lost probes (no reply within ${p.replyTimeoutMs} ms), exact from the first lost send to the next answered send; the longest, ${longest.probes} probe(s), from ${longest.fromMs.toFixed(1)} to ${longest.toMs.toFixed(1)} ms${longest.open ? ' (the log ended inside it)' : ''}.`;
}

/** The chart's layers, each with its caption sentence; no legend: the caption names each mark by the colour it is drawn in. */
function layers(p: ProbeTimeline, primary: string): Layers {
  const x = { type: 'quantitative', title: 'ms from the source freeze', scale: { domain: [p.rangeMs.from, p.rangeMs.to], nice: false } };
  const y = axisScale(p.bins.map((b) => b.maxReplyMs));
  const span = (values: { from: number; to: number }[], mark: Record<string, unknown>) => ({
    data: { values },
    mark: { type: 'rect', clip: true, ...mark },
    encoding: { x: { field: 'from', ...x }, x2: { field: 'to' } },
  });
  const lost = p.lostRuns.map((r) => ({ from: Math.max(r.fromMs, p.rangeMs.from), to: Math.min(r.toMs, p.rangeMs.to) }));
  return new Layers()
    .add(
      {
        data: { values: p.bins.map((b) => ({ at: b.fromMs + p.binMs / 2, reply: b.maxReplyMs, answered: b.answered })) },
        mark: { type: 'point', filled: true, size: 22, color: ANSWERED_COLOUR, clip: true },
        encoding: {
          x: { field: 'at', ...x },
          y: { field: 'reply', type: 'quantitative', title: `longest reply per ${p.binMs} ms, ms${y.note}`, scale: y.scale },
        },
      },
      {
        marktype: 'symbol',
        colour: ANSWERED_COLOUR,
        says: `${capitalised(colourName(ANSWERED_COLOUR))} points: the longest reply time among the probes sent in each bin.`,
      },
    )
    .add(span(lost, { color: LOST_COLOUR, opacity: 0.55 }), { marktype: 'rect', colour: LOST_COLOUR, says: lostText(p) })
    .add(span([{ from: p.downtimeMs.from, to: p.downtimeMs.to }], { filled: false, color: WINDOW_COLOUR, strokeWidth: 1.5, strokeDash: [5, 3] }), {
      marktype: 'rect',
      colour: WINDOW_COLOUR,
      dashed: true,
      says: `${capitalised(colourName(WINDOW_COLOUR))} dashed outline: the ${primary} downtime window (0 to ${p.downtimeMs.to.toFixed(1)} ms).`,
    })
    .add(
      {
        data: { values: [{ at: 0 }] },
        mark: { type: 'rule', strokeDash: [4, 3], color: REFERENCE_COLOUR },
        encoding: { x: { field: 'at', type: 'quantitative' } },
      },
      { marktype: 'rule', colour: REFERENCE_COLOUR, dashed: true, says: `${capitalised(colourName(REFERENCE_COLOUR))} dashed line: the source freeze.` },
    );
}

export function probeCharts(summary: Summary): ChartSpec[] {
  return (summary.probeTimelines?.panels ?? []).map((p, i) => {
    const drawn = layers(p, summary.primary);
    return {
      id: `probes-${i + 1}`,
      title: `Probes around the switchover: ${p.label}, migration ${p.seq}`,
      caption: drawn.caption(
        intro(p, summary.runs.length),
        `${p.lostRuns.length ? '' : `No probe was lost in this window (reply timeout ${p.replyTimeoutMs} ms). `}${clockText(p.clock)}`,
      ),
      spec: { $schema: VEGA_LITE_SCHEMA, config, width: 640, height: 200, layer: drawn.layers } as TopLevelSpec,
      keys: drawn.keys,
    };
  });
}
