/**
 * Streaming trace scanner (pure, no I/O): feed it the bytes of a trace file in chunks of any size
 * and it returns exactly what parseTrace returns for the whole text, without ever holding more
 * than one line beyond the current chunk.
 *
 * Why it is fast: a metric needs a handful of events among millions of lines. Each line's
 * timestamp prefix and event name are checked as bytes (enough to know the line parses and
 * which event it is); only lines of wanted events, and lines the byte check cannot vouch for
 * (torn writes, warnings, '\r' inside a line, U+2028/2029), are decoded and given to the
 * line-based parser, so both paths agree by construction.
 */
import { TraceCollector, type ParsedTrace, type ParseOptions, type TraceEvent, type TraceFormat } from './parse.ts';

const LF = 10;
const CR = 13;
const SPACE = 32;
const AT = 64;
const DOT = 46;
const COLON = 58;
const DASH = 45;
const UPPER_T = 84;
const UPPER_Z = 90;
const UNDERSCORE = 95;
/** First byte of U+2028/U+2029 in UTF-8: line terminators for the parser's `.`, so such lines go the slow way. */
const E2 = 0xe2;

const FORMAT_BIT: Record<TraceFormat, number> = { 'log-legacy': 1, 'log-iso': 2, stap: 4 };
const LEGACY_BIT = FORMAT_BIT['log-legacy'];

const DIGIT = 1;
const NAME = 2;
const BYTE_CLASS = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  if (c >= 48 && c <= 57) BYTE_CLASS[c] = DIGIT | NAME;
  else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === UNDERSCORE) BYTE_CLASS[c] = NAME;
}
const isDigit = (c: number) => (BYTE_CLASS[c] & DIGIT) !== 0;

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export class TraceScanner {
  private readonly collector: TraceCollector;
  /** Wanted event names as bytes, indexed by length; undefined: every event is wanted. */
  private readonly wantedByLength?: { bytes: Buffer; name: string }[][];
  private carry?: Buffer;
  private lineNo = 0;
  private formatsSeen = 0;
  // where the byte check found an event name (set by classify)
  private nameStart = 0;
  private nameEnd = 0;
  /** The wanted name isWanted matched (an interned string, not a fresh decode per line). */
  private wantedName = '';
  /** Where a legacy line's seconds and fraction start (classify), for legacyEvent. */
  private secondsStart = 0;
  private fractionStart = 0;
  /** The buffer being scanned, as a DataView: classify checks four digits per read. */
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  constructor(options: ParseOptions = {}) {
    this.collector = new TraceCollector(options.events);
    if (options.events) {
      this.wantedByLength = [];
      for (const name of options.events) {
        const bytes = Buffer.from(name, 'utf8');
        (this.wantedByLength[bytes.length] ??= []).push({ bytes, name });
      }
    }
  }

  push(chunk: Uint8Array): void {
    const b = asBuffer(chunk);
    let start = 0;
    if (this.carry) {
      const newline = b.indexOf(LF);
      if (newline === -1) {
        this.carry = Buffer.concat([this.carry, b]);
        return;
      }
      const line = Buffer.concat([this.carry, b.subarray(0, newline)]);
      this.carry = undefined;
      this.scanLines(line, 0, line.length, true);
      start = newline + 1;
    }
    const last = b.lastIndexOf(LF);
    if (last >= start) {
      this.scanLines(b, start, last + 1, false);
      start = last + 1;
    }
    // the partial last line is copied: the caller may reuse its buffer for the next chunk
    if (start < b.length) this.carry = Buffer.from(b.subarray(start));
  }

  end(): ParsedTrace {
    if (this.carry) {
      const line = this.carry;
      this.carry = undefined;
      this.scanLines(line, 0, line.length, true);
    }
    return this.collector.result();
  }

  /**
   * Lines in b[from, to): every line ends with '\n' except, when `lastUnterminated`, the last one.
   */
  private scanLines(b: Buffer, from: number, to: number, lastUnterminated: boolean): void {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    let nextCr = b.indexOf(CR, from);
    let nextE2 = b.indexOf(E2, from);
    let start = from;
    while (start < to) {
      let end = b.indexOf(LF, start);
      if (end === -1 || end >= to) {
        if (!lastUnterminated) throw new Error('scanner: unterminated line inside a chunk');
        end = to;
      }
      const lineNo = ++this.lineNo;
      if (nextCr !== -1 && nextCr < start) nextCr = b.indexOf(CR, start);
      if (nextE2 !== -1 && nextE2 < start) nextE2 = b.indexOf(E2, start);
      let contentEnd = end;
      let clean = nextE2 === -1 || nextE2 >= end;
      if (clean && nextCr !== -1 && nextCr < end) {
        // one '\r' right before the '\n' is CRLF and the parser strips it; any other is the parser's business
        if (nextCr === end - 1) contentEnd = end - 1;
        else clean = false;
      }
      const format = clean ? this.classify(b, start, contentEnd) : 0;
      if (format === 0 || this.isWanted(b)) {
        const event = format === LEGACY_BIT ? this.legacyEvent(b, start, contentEnd) : undefined;
        if (event) this.collector.events.push(event);
        else this.collector.line(b.toString('utf8', start, end), lineNo);
      }
      if (format !== 0 && (this.formatsSeen & format) === 0) {
        this.formatsSeen |= format;
        this.collector.sawFormat(format === 1 ? 'log-legacy' : format === 2 ? 'log-iso' : 'stap');
      }
      start = end + 1;
    }
  }

  private isWanted(b: Buffer): boolean {
    if (!this.wantedByLength) {
      this.wantedName = b.toString('latin1', this.nameStart, this.nameEnd);
      return true;
    }
    const candidates = this.wantedByLength[this.nameEnd - this.nameStart];
    if (!candidates) return false;
    for (const { bytes, name } of candidates) {
      let i = bytes.length - 1;
      // event names share long prefixes (vhost_vdpa_...): compare from the end
      while (i >= 0 && bytes[i] === b[this.nameStart + i]) i--;
      if (i < 0) {
        this.wantedName = name;
        return true;
      }
    }
    return false;
  }

  /**
   * What parseTraceLine returns for a legacy line classify vouched for, built from its bytes;
   * undefined when a number is too long to be read exactly that way (the parser then does it).
   */
  private legacyEvent(b: Buffer, start: number, contentEnd: number): TraceEvent | undefined {
    const idEnd = this.secondsStart - 1;
    const secondsEnd = this.fractionStart - 1;
    const fractionEnd = this.nameStart - 1;
    // up to 15 digits, digit-by-digit accumulation is exact and equals Number(string)
    if (idEnd - start > 15 || secondsEnd - this.secondsStart > 15) return undefined;
    let id = 0;
    for (let i = start; i < idEnd; i++) id = id * 10 + (b[i] - 48);
    let seconds = 0;
    for (let i = this.secondsStart; i < secondsEnd; i++) seconds = seconds * 10 + (b[i] - 48);
    let micros = 0;
    for (let i = this.fractionStart; i < fractionEnd; i++) micros = micros * 10 + (b[i] - 48);
    // ".917" is 917000 µs: the parser pads the fraction to six digits
    for (let digits = fractionEnd - this.fractionStart; digits < 6; digits++) micros *= 10;
    const args = this.nameEnd < contentEnd ? b.toString('utf8', this.nameEnd + 1, contentEnd) : '';
    return { timeUs: seconds * 1e6 + micros, name: this.wantedName, args, id, line: this.lineNo, format: 'log-legacy' };
  }

  /**
   * Past the ASCII digits from i: four bytes per read while all four are digits (each byte's high
   * nibble is 3 and adding 6 keeps it 3 only for 0-9), then byte by byte.
   */
  private skipDigits(b: Buffer, i: number): number {
    const view = this.view;
    const limit = b.length - 4;
    while (i <= limit) {
      const x = view.getUint32(i, true);
      if ((x & 0xf0f0f0f0) !== 0x30303030 || ((x + 0x06060606) & 0xf0f0f0f0) !== 0x30303030) break;
      i += 4;
    }
    while (b[i] <= 57 && b[i] >= 48) i++;
    return i;
  }

  /**
   * The format bit of a line that parseTraceLine is sure to parse, with the event name's range
   * in nameStart/nameEnd; 0 when the bytes do not prove it (the parser then decides). The digit
   * and name loops run without a bound: b[e] is '\n', '\r' or past the end of the buffer, none of
   * which is a digit or a name byte.
   */
  private classify(b: Buffer, s: number, e: number): number {
    let i = s;
    const digitsFrom = i;
    i = this.skipDigits(b, i);
    if (i === digitsFrom || i >= e) return 0;
    let format: number;
    if (b[i] === AT) {
      i++;
      const secondsFrom = i;
      i = this.skipDigits(b, i);
      const seconds = i - secondsFrom;
      if (seconds === 0 || i >= e) return 0;
      if (b[i] === DOT) {
        i++;
        const fractionFrom = i;
        i = this.skipDigits(b, i);
        const fraction = i - fractionFrom;
        if (fraction < 1 || fraction > 6 || i >= e || b[i] !== COLON) return 0;
        i++;
        format = FORMAT_BIT['log-legacy'];
        this.secondsStart = secondsFrom;
        this.fractionStart = fractionFrom;
      } else if (b[i] === SPACE && seconds >= 10) {
        i++;
        format = FORMAT_BIT.stap;
      } else return 0;
    } else {
      // 2025-07-21T18:43:28.089797Z: the year's four digits were read above
      if (i - digitsFrom !== 4 || e - i < 16) return 0;
      if (b[i] !== DASH || !isDigit(b[i + 1]) || !isDigit(b[i + 2]) || b[i + 3] !== DASH || !isDigit(b[i + 4]) || !isDigit(b[i + 5])) return 0;
      if (b[i + 6] !== UPPER_T || !isDigit(b[i + 7]) || !isDigit(b[i + 8]) || b[i + 9] !== COLON || !isDigit(b[i + 10]) || !isDigit(b[i + 11])) return 0;
      if (b[i + 12] !== COLON || !isDigit(b[i + 13]) || !isDigit(b[i + 14])) return 0;
      i += 15;
      if (b[i] === DOT) {
        i++;
        const fractionFrom = i;
        while (b[i] <= 57 && b[i] >= 48) i++;
        if (i - fractionFrom < 1 || i - fractionFrom > 9) return 0;
      }
      if (i + 1 >= e || b[i] !== UPPER_Z || b[i + 1] !== SPACE) return 0;
      i += 2;
      format = FORMAT_BIT['log-iso'];
    }
    const nameFrom = i;
    while ((BYTE_CLASS[b[i]] & NAME) !== 0) i++;
    if (i === nameFrom || (i < e && b[i] !== SPACE)) return 0;
    this.nameStart = nameFrom;
    this.nameEnd = i;
    return format;
  }
}

/** Scans a whole trace given as chunks (arrays, generators): the pure entry point for tests. */
export function scanTrace(chunks: Iterable<Uint8Array>, options: ParseOptions = {}): ParsedTrace {
  const scanner = new TraceScanner(options);
  for (const chunk of chunks) scanner.push(chunk);
  return scanner.end();
}
