/**
 * The part of a trace file a migration's record read, as the record names it (`traceRanges`):
 * byte range, line range and SHA-256, so a copy of the file can be checked against the measurement.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface TraceRange {
  /** [from, to): byte offsets. */
  bytes: [number, number];
  /** [first, last]: 1-based line numbers (an empty file is [1, 0]). */
  lines: [number, number];
  sha256: string;
}

/** The whole file, streamed: the engine scans every line of a migration's traces (windows select events, not lines). */
export async function traceRange(path: string): Promise<TraceRange> {
  const hash = createHash('sha256');
  let bytes = 0;
  let newlines = 0;
  let last = 0x0a;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) newlines++;
    last = chunk[chunk.length - 1];
  }
  const lines = newlines + (bytes > 0 && last !== 0x0a ? 1 : 0);
  return { bytes: [0, bytes], lines: [1, lines], sha256: hash.digest('hex') };
}
