/**
 * Turns one migration's pair of trace texts into its metrics (pure): every requested rule is
 * applied; the primary one decides whether the migration is usable.
 */
import { parseTrace } from '../traces/parse.ts';
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
}

export type Analysis = Pick<IterationRecord, 'status' | 'reason' | 'downtimeMs' | 'metrics' | 'metricErrors' | 'metricAnchors' | 'unparsedTraceLines'>;

export function analyseMigration(input: AnalyseInput): Analysis {
  const rules = new Map(input.names.map((name) => [name, resolveRule(name, input.rules as Record<string, MetricRule>)]));
  const wanted = new Set(eventsNeeded(rules.values()));
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
  if (analysis.status === 'invalid') analysis.reason = `primary metric ${input.primary}: ${metricErrors[input.primary]}`;
  return analysis;
}
