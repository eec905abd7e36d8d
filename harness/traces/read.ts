/**
 * Trace files from disk through the streaming scanner, in one reused buffer: memory stays flat
 * however large the file is.
 *
 * Reads are synchronous on purpose: a thread-pool read per chunk costs a hand-off between
 * threads, which on a busy two-core lab machine took longer than scanning the chunk. The event
 * loop still gets a turn every few chunks, so QMP traffic of a running migration is not held up.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { ParsedTrace, ParseOptions } from './parse.ts';
import { TraceScanner } from './scan.ts';

export const SCAN_CHUNK_BYTES = 1 << 20;
const CHUNKS_PER_TURN = 8;

export async function scanTraceFile(path: string, options: ParseOptions = {}, chunkBytes = SCAN_CHUNK_BYTES): Promise<ParsedTrace> {
  const fd = openSync(path, 'r');
  try {
    const scanner = new TraceScanner(options);
    const buffer = Buffer.allocUnsafe(chunkBytes);
    for (let chunks = 1; ; chunks++) {
      const bytesRead = readSync(fd, buffer, 0, chunkBytes, null);
      if (bytesRead === 0) break;
      scanner.push(buffer.subarray(0, bytesRead));
      if (chunks % CHUNKS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    return scanner.end();
  } finally {
    closeSync(fd);
  }
}
