/**
 * Pure parser for QEMU trace output in the three formats labs meet (no I/O here):
 *   log backend, QEMU <= 10.0:  `2986097@1753122905.917608:vhost_vdpa_suspend dev: 0x55d0c1a3b2c0`
 *   log backend, QEMU >= 10.1:  `2025-07-21T18:43:28.089797Z vhost_vdpa_suspend dev: 0x55d0c1a3b2c0`
 *   qemu-trace-stap (dtrace):   `12345@1753122905917608123 vhost_vdpa_suspend dev: 0x55d0c1a3b2c0`
 * Timestamps become integer microseconds since the Unix epoch (wall clock of the host that wrote them).
 */

export type TraceFormat = 'log-legacy' | 'log-iso' | 'stap';

export interface TraceEvent {
  /** Microseconds since the epoch, in the writing host's wall clock. */
  timeUs: number;
  name: string;
  /** The formatted arguments, verbatim (everything after the event name). */
  args: string;
  /** Thread id (log <= 10.0) or pid (stap); absent in the ISO format. */
  id?: number;
  /** 1-based line number in the file. */
  line: number;
  format: TraceFormat;
}

export interface UnparsedLine {
  line: number;
  text: string;
}

export interface ParsedTrace {
  events: TraceEvent[];
  /** Lines that are not trace events (QEMU warnings, torn writes, lines without timestamps). */
  unparsedCount: number;
  /** The first few unparsed lines, for error messages. */
  unparsedSamples: UnparsedLine[];
  formats: TraceFormat[];
}

const LEGACY = /^(\d+)@(\d+)\.(\d{1,6}):([A-Za-z0-9_]+)(?: (.*))?$/;
const ISO = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z ([A-Za-z0-9_]+)(?: (.*))?$/;
const STAP = /^(\d+)@(\d{10,}) ([A-Za-z0-9_]+)(?: (.*))?$/;

const SAMPLE_LIMIT = 5;

export function parseTraceLine(text: string, line: number): TraceEvent | undefined {
  const trimmed = text.endsWith('\r') ? text.slice(0, -1) : text;
  let m = LEGACY.exec(trimmed);
  if (m) {
    return { timeUs: Number(m[2]) * 1e6 + Number(m[3].padEnd(6, '0')), name: m[4], args: m[5] ?? '', id: Number(m[1]), line, format: 'log-legacy' };
  }
  m = ISO.exec(trimmed);
  if (m) {
    const seconds = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000;
    const micros = m[7] ? Number(m[7].padEnd(9, '0').slice(0, 6)) : 0;
    if (!Number.isFinite(seconds)) return undefined;
    return { timeUs: seconds * 1e6 + micros, name: m[8], args: m[9] ?? '', line, format: 'log-iso' };
  }
  m = STAP.exec(trimmed);
  if (m) {
    // Nanoseconds exceed 2^53; integer-divide as a string so no precision is lost above the microsecond.
    const ns = m[2];
    return { timeUs: Number(ns.slice(0, -3)), name: m[3], args: m[4] ?? '', id: Number(m[1]), line, format: 'stap' };
  }
  return undefined;
}

export interface ParseOptions {
  /** Keep only these events (the rest are skipped, not counted as unparsed). */
  events?: ReadonlySet<string>;
}

/**
 * What parseTrace does with each line, shared with the streaming scanner (scan.ts) so both give
 * the same result for the same bytes.
 */
export class TraceCollector {
  readonly events: TraceEvent[] = [];
  readonly unparsedSamples: UnparsedLine[] = [];
  private readonly formats = new Set<TraceFormat>();
  unparsedCount = 0;

  constructor(readonly wanted?: ReadonlySet<string>) {}

  /** One line of text (without its '\n'; a trailing '\r' is allowed), 1-based line number. */
  line(lineText: string, lineNo: number): void {
    if (lineText.trim() === '') return;
    const event = parseTraceLine(lineText, lineNo);
    if (!event) {
      this.unparsedCount++;
      if (this.unparsedSamples.length < SAMPLE_LIMIT) this.unparsedSamples.push({ line: lineNo, text: lineText.slice(0, 200) });
      return;
    }
    this.formats.add(event.format);
    if (this.wanted && !this.wanted.has(event.name)) return;
    this.events.push(event);
  }

  /** A line known to parse as `format` whose event is not wanted (the scanner's fast path). */
  sawFormat(format: TraceFormat): void {
    this.formats.add(format);
  }

  result(): ParsedTrace {
    return { events: this.events, unparsedCount: this.unparsedCount, unparsedSamples: this.unparsedSamples, formats: [...this.formats] };
  }
}

export function parseTrace(text: string, options: ParseOptions = {}): ParsedTrace {
  const collector = new TraceCollector(options.events);
  let lineNo = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    lineNo++;
    collector.line(text.slice(start, end), lineNo);
    start = end + 1;
  }
  return collector.result();
}

export function formatTraceTime(timeUs: number): string {
  const iso = new Date(Math.floor(timeUs / 1000)).toISOString();
  return `${iso.slice(0, 19)}.${String(Math.round(timeUs % 1e6)).padStart(6, '0')}Z`;
}
