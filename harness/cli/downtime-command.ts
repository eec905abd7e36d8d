/** `vdpa-bench downtime`: a downtime metric applied to a source and a destination trace file. */
import { InvalidArgumentError, Option, type Command } from '@commander-js/extra-typings';
import { applyRule, eventsNeeded, resolveRule } from '../metrics/rules.ts';
import { BUILTIN_METRICS } from '../profile/metric-rules.ts';
import { formatTraceTime, type ParsedTrace, type ParseOptions } from '../traces/parse.ts';
import { scanTraceFile } from '../traces/read.ts';
import type { Out } from './options.ts';
import { formatMs } from './progress.ts';
import { UsageError } from './usage-error.ts';

const integer = (value: string) => {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number of microseconds');
  return Number(value);
};

export function addDowntimeCommand(program: Command, out: Out, setExit: (code: number) => void): void {
  program
    .command('downtime')
    .description('Apply a downtime metric to a source and a destination trace file')
    .requiredOption('--source <file>', 'trace file written by the source QEMU')
    .requiredOption('--destination <file>', 'trace file written by the destination QEMU')
    .addOption(new Option('--metric <name>', 'metric rule').choices(Object.keys(BUILTIN_METRICS)).default('vdpa'))
    .option('--clock-offset-us <n>', 'destination clock minus source clock, µs (destination times are corrected by it)', integer, 0)
    .option('--json', 'print JSON: {downtimeUs, start: {event, time}, end: {event, time}, ...}')
    .addHelpText(
      'after',
      `
Metrics (start = LAST matching event on the source, end = LAST on the destination):
${Object.entries(BUILTIN_METRICS)
  .map(([name, r]) => `  ${name.padEnd(11)} ${r.description}`)
  .join('\n')}

Trace formats: QEMU log backend (<= 10.0 "TID@SEC.USEC:event", >= 10.1 ISO "...Z event") with
-msg timestamp=on, and qemu-trace-stap output ("PID@NANOSECONDS event").
Exit status 1 names the missing event when the metric cannot be applied.`,
    )
    .action(async (opts) => {
      const rule = resolveRule(opts.metric);
      // streamed: only the events the rule looks at are kept, so a trace of any size fits in memory
      const scan = { events: new Set(eventsNeeded([rule])) };
      const source = await readTraceFile(opts.source, scan);
      const destination = opts.destination === opts.source ? source : await readTraceFile(opts.destination, scan);
      const result = applyRule(rule, { source: source.events, destination: destination.events, clockOffsetUs: opts.clockOffsetUs });
      const unparsed = { source: source.unparsedCount, destination: destination.unparsedCount };
      if (!result.ok) {
        if (opts.json)
          out.stdout(JSON.stringify({ metric: opts.metric, error: result.reason, missing: result.missing ?? null, unparsedLines: unparsed }) + '\n');
        out.stderr(`vdpa-bench downtime: ${opts.metric}: ${result.reason}\n`);
        setExit(1);
        return;
      }
      if (opts.json) {
        out.stdout(JSON.stringify(downtimeJson({ metric: opts.metric, result, clockOffsetUs: opts.clockOffsetUs, unparsed })) + '\n');
        return;
      }
      out.stdout(`${opts.metric}: ${formatMs(result.downtimeUs / 1000)} (${result.downtimeUs} µs)\n`);
      out.stdout(`  start  ${formatTraceTime(result.start.timeUs)}  ${result.start.event} ${result.start.args}  (source line ${result.start.line})\n`);
      out.stdout(`  end    ${formatTraceTime(result.end.timeUs)}  ${result.end.event} ${result.end.args}  (destination line ${result.end.line})\n`);
      if (unparsed.source + unparsed.destination > 0) out.stdout(`  unparsed lines: source ${unparsed.source}, destination ${unparsed.destination}\n`);
    });
}

/** `downtime --json` of a measured window: both ends with their trace lines, the offset applied, any fallback used. */
/** What `downtime --json` prints for a measured window. */
export type DowntimeJson = ReturnType<typeof downtimeJson>;

function downtimeJson({
  metric,
  result,
  clockOffsetUs,
  unparsed,
}: {
  metric: string;
  result: Extract<ReturnType<typeof applyRule>, { ok: true }>;
  clockOffsetUs: number;
  unparsed: { source: number; destination: number };
}) {
  return {
    metric,
    downtimeUs: result.downtimeUs,
    downtimeMs: result.downtimeUs / 1000,
    start: {
      event: result.start.event,
      time: result.start.timeUs,
      iso: formatTraceTime(result.start.timeUs),
      line: result.start.line,
      args: result.start.args,
    },
    end: {
      event: result.end.event,
      time: result.end.timeUs,
      rawTime: result.end.rawTimeUs,
      iso: formatTraceTime(result.end.timeUs),
      line: result.end.line,
      args: result.end.args,
    },
    clockOffsetUs,
    fallback: result.fallback,
    unparsedLines: unparsed,
  };
}

async function readTraceFile(path: string, options: ParseOptions): Promise<ParsedTrace> {
  try {
    return await scanTraceFile(path, options);
  } catch (error) {
    throw new UsageError(`cannot read trace file ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
}
