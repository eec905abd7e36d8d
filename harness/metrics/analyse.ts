/**
 * Turns one migration's pair of trace texts into its metrics (pure): every requested rule is
 * applied; the primary one decides whether the migration is usable.
 */
import { parseTrace, type ParsedTrace } from '../traces/parse.ts';
import { computePhases, describeVdpaAnchors, PHASE_EVENTS, vringEnableTimes } from './phases.ts';
import { attributeDowntime } from './downtime-attribution.ts';
import { CHECKPOINT_EVENT, downtimePhases } from './downtime-phases.ts';
import { applyRule, eventsNeeded, resolveRule, type TimeWindow } from './rules.ts';
import { type MetricRule } from '../profile/schema.ts';
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

export type Analysis = Pick<
  IterationRecord,
  'status' | 'reason' | 'downtimeMs' | 'metrics' | 'metricErrors' | 'metricAnchors' | 'unparsedTraceLines' | 'extra'
>;

/** The trace events the analysis looks at (the metrics', and a vDPA cell's phases): all a scanner needs to keep. */
export function analysisEvents(ruleSet: Readonly<Record<string, MetricRule>>, names: readonly string[], queuePairs?: number | null): Set<string> {
  const vdpaCell = queuePairs !== undefined && queuePairs !== null;
  return new Set([
    ...eventsNeeded(names.map((name) => resolveRule(name, ruleSet as Record<string, MetricRule>))),
    CHECKPOINT_EVENT,
    ...(vdpaCell ? PHASE_EVENTS : []),
  ]);
}

export function analyseMigration(input: AnalyseInput): Analysis {
  const wanted = analysisEvents(input.rules, input.names, input.queuePairs);
  const { sourceText, destinationText, ...rest } = input;
  return analyseParsed({ ...rest, source: parseTrace(sourceText, { events: wanted }), destination: parseTrace(destinationText, { events: wanted }) });
}

export type AnalyseParsedInput = Omit<AnalyseInput, 'sourceText' | 'destinationText'> & { source: ParsedTrace; destination: ParsedTrace };

/** As analyseMigration, for traces already parsed or streamed (keeping at least analysisEvents). */
export function analyseParsed(input: AnalyseParsedInput): Analysis {
  const rules = new Map(input.names.map((name) => [name, resolveRule(name, input.rules as Record<string, MetricRule>)]));
  const vdpaCell = input.queuePairs !== undefined && input.queuePairs !== null;
  const { source, destination } = input;
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
  if (analysis.status === 'invalid')
    analysis.reason = `primary metric ${input.primary}: ${metricErrors[input.primary]}${unparsedNote(source, 'source')}${unparsedNote(destination, 'destination')}`;
  // QEMU >= 8.2: where the downtime went (source stop, state saved, destination load, guest start)
  const checkpoints = downtimePhases({ source: source.events, destination: destination.events, clockOffsetUs: input.clockOffsetUs, windows: input.windows });
  if (checkpoints) analysis.extra = { ...analysis.extra, downtimePhases: checkpoints };
  let vdpa: Parameters<typeof attributeDowntime>[0]['vdpa'];
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
    analysis.extra = { ...analysis.extra, phases: { ...phases, vdpaRule: vdpaRule ? describeVdpaAnchors(vdpaRule.start.event, vdpaRule.end.event) : null } };
    const vringEnablesUs = vringEnableTimes(destination.events, input.clockOffsetUs, input.windows?.destination);
    vdpa = { batches: phases.pinning.batches, driverOkUs: phases.driverOk?.timeUs ?? null, vringEnablesUs };
    if ('problem' in phases.vrings && phases.vrings.problem && analysis.status === 'ok') {
      analysis.status = 'invalid';
      analysis.reason = phases.vrings.problem;
    }
  }
  const attribution = primaryAttribution(metricAnchors[input.primary], input.primary, checkpoints, vdpa);
  if (attribution) analysis.extra = { ...analysis.extra, downtimeAttribution: attribution };
  return analysis;
}

/** Where the primary's window went, phase by phase (the pieces add up to it); null without its anchors. */
function primaryAttribution(
  anchors: NonNullable<Analysis['metricAnchors']>[string] | undefined,
  metric: string,
  checkpoints: ReturnType<typeof downtimePhases>,
  vdpa: Parameters<typeof attributeDowntime>[0]['vdpa'],
) {
  if (!anchors) return null;
  const window = { metric, startUs: anchors.start.timeUs, endUs: anchors.end.timeUs };
  return attributeDowntime({ window, checkpoints: checkpoints?.checkpoints, vdpa });
}

/** A torn or corrupted trace explains a missing event: say where the damage is. */
function unparsedNote(trace: ReturnType<typeof parseTrace>, side: string): string {
  if (trace.unparsedCount === 0) return '';
  const first = trace.unparsedSamples[0];
  const sample = first ? `, first at line ${first.line}: ${JSON.stringify(first.text.slice(0, 80))}` : '';
  return `; ${side} trace has ${trace.unparsedCount} unparsed line${trace.unparsedCount === 1 ? '' : 's'}${sample}`;
}
