/**
 * Turns one migration's pair of trace texts into its metrics (pure): every requested rule is
 * applied; the primary one decides whether the migration is usable.
 */
import { parseTrace } from '../traces/parse.ts';
import { computePhases, describeVdpaAnchors, PHASE_EVENTS } from './phases.ts';
import { applyRule, eventsNeeded, resolveRule, type MetricRule, type TimeWindow } from './rules.ts';
import type { IterationRecord } from '../results/types.ts';

export interface AnalyseInput {
  sourceText: string;
  destinationText: string;
  rules: Readonly<Record<string, MetricRule>>;
  names: readonly string[];
  primary: string;
  clockOffsetUs: number;
  windows?: { source?: TimeWindow; destination?: TimeWindow };
  /** A vDPA cell's queue pairs: its phases are computed and its vring count checked. */
  queuePairs?: number | null;
  destinationQmpReadyMs?: number | null;
}

export type Analysis = Pick<IterationRecord, 'status' | 'reason' | 'downtimeMs' | 'metrics' | 'metricErrors' | 'metricAnchors' | 'unparsedTraceLines' | 'extra'>;

export function analyseMigration(input: AnalyseInput): Analysis {
  const rules = new Map(input.names.map((name) => [name, resolveRule(name, input.rules as Record<string, MetricRule>)]));
  const vdpaCell = input.queuePairs !== undefined && input.queuePairs !== null;
  const wanted = new Set([...eventsNeeded(rules.values()), ...(vdpaCell ? PHASE_EVENTS : [])]);
  const source = parseTrace(input.sourceText, { events: wanted });
  const destination = parseTrace(input.destinationText, { events: wanted });
  const metrics: Record<string, number | null> = {};
  const metricErrors: Record<string, string> = {};
  const metricAnchors: NonNullable<Analysis['metricAnchors']> = {};
  for (const [name, rule] of rules) {
    const result = applyRule(rule, { source: source.events, destination: destination.events, clockOffsetUs: input.clockOffsetUs, window: input.windows });
    if (result.ok) {
      metrics[name] = result.downtimeUs / 1000;
      metricAnchors[name] = {
        start: { event: result.start.event, timeUs: result.start.timeUs, line: result.start.line },
        end: { event: result.end.event, timeUs: result.end.timeUs, line: result.end.line },
        fallback: result.fallback,
      };
    } else {
      metrics[name] = null;
      metricErrors[name] = result.reason;
    }
  }
  const primary = metrics[input.primary];
  const analysis: Analysis = {
    status: primary === null || primary === undefined ? 'invalid' : 'ok',
    downtimeMs: primary ?? null,
    metrics,
    metricAnchors,
    unparsedTraceLines: { source: source.unparsedCount, destination: destination.unparsedCount },
  };
  if (Object.keys(metricErrors).length > 0) analysis.metricErrors = metricErrors;
  if (analysis.status === 'invalid') analysis.reason = `primary metric ${input.primary}: ${metricErrors[input.primary]}${unparsedNote(source, 'source')}${unparsedNote(destination, 'destination')}`;
  if (vdpaCell) {
    // the overlap is judged against the seed's span when it could be computed, else the primary's
    const windowMetric = metricAnchors.vdpa ? 'vdpa' : metricAnchors[input.primary] ? input.primary : undefined;
    const anchors = windowMetric ? metricAnchors[windowMetric] : undefined;
    const phases = computePhases({
      destination: destination.events,
      queuePairs: input.queuePairs!,
      clockOffsetUs: input.clockOffsetUs,
      destinationWindow: input.windows?.destination,
      downtime: anchors && windowMetric ? { metric: windowMetric, startUs: anchors.start.timeUs, endUs: anchors.end.timeUs } : undefined,
      destinationQmpReadyMs: input.destinationQmpReadyMs,
    });
    const vdpaRule = metricAnchors.vdpa ?? metricAnchors['vdpa-ready'];
    analysis.extra = { phases: { ...phases, vdpaRule: vdpaRule ? describeVdpaAnchors(vdpaRule.start.event, vdpaRule.end.event) : null } };
    if ('problem' in phases.vrings && phases.vrings.problem && analysis.status === 'ok') {
      analysis.status = 'invalid';
      analysis.reason = phases.vrings.problem;
    }
  }
  return analysis;
}

/** A torn or corrupted trace explains a missing event: say where the damage is. */
function unparsedNote(trace: ReturnType<typeof parseTrace>, side: string): string {
  if (trace.unparsedCount === 0) return '';
  const first = trace.unparsedSamples[0];
  const sample = first ? `, first at line ${first.line}: ${JSON.stringify(first.text.slice(0, 80))}` : '';
  return `; ${side} trace has ${trace.unparsedCount} unparsed line${trace.unparsedCount === 1 ? '' : 's'}${sample}`;
}
