/**
 * Trace files from disk through the streaming scanner, in one reused buffer: memory stays flat
 * however large the file is.
 *
 * Reads are synchronous on purpose: a thread-pool read per chunk costs a hand-off between
 * threads, which on a busy two-core lab machine took longer than scanning the chunk. The event
 * loop still gets a turn every few chunks, so QMP traffic of a running migration is not held up.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ParsedTrace, ParseOptions } from './parse.ts';
import { mergeScannedPieces, TraceScanner } from './scan.ts';

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

/** Below this a file is scanned in one piece: starting a worker costs more than it saves. */
export const PARALLEL_MIN_BYTES = 64 << 20;

/**
 * Offsets that split a file into `pieces` parts, each starting at a line start (pure over the
 * reader): a part boundary moves forward to just after the next '\n'; parts that would be empty
 * disappear.
 */
export function lineAlignedSplits(size: number, pieces: number, readAt: (position: number, length: number) => Buffer): number[] {
  const starts = [0];
  for (let i = 1; i < pieces; i++) {
    let position = Math.max(Math.floor((size * i) / pieces), starts[starts.length - 1]);
    for (;;) {
      if (position >= size) break;
      const bytes = readAt(position, 64 * 1024);
      if (bytes.length === 0) {
        position = size;
        break;
      }
      const newline = bytes.indexOf(10);
      if (newline !== -1) {
        position += newline + 1;
        break;
      }
      position += bytes.length;
    }
    if (position < size && position > starts[starts.length - 1]) starts.push(position);
  }
  return starts;
}

/**
 * The same result as scanTraceFile, from worker threads each scanning a line-aligned piece of a
 * large file (the `downtime` command over a trace of gigabytes). Workers need the compiled CLI
 * (dist/): run from the TypeScript, or for small files, or on one core, it scans in one piece.
 */
export async function scanTraceFileParallel(path: string, options: ParseOptions = {}, maxWorkers = Math.min(availableParallelism(), 4)): Promise<ParsedTrace> {
  const workerFile = new URL('./scan-worker.js', import.meta.url);
  const fd = openSync(path, 'r');
  let starts: number[];
  let size: number;
  try {
    size = fstatSync(fd).size;
    if (maxWorkers < 2 || size < PARALLEL_MIN_BYTES || !existsSync(workerFile)) return await scanTraceFile(path, options);
    starts = lineAlignedSplits(size, maxWorkers, (position, length) => {
      const buffer = Buffer.allocUnsafe(length);
      return buffer.subarray(0, readSync(fd, buffer, 0, length, position));
    });
  } finally {
    closeSync(fd);
  }
  const events = options.events ? [...options.events] : null;
  const pieces = await Promise.all(
    starts.map(
      (start, i) =>
        new Promise<{ result: ParsedTrace; lines: number }>((resolve, reject) => {
          const worker = new Worker(workerFile, { workerData: { path, start, end: starts[i + 1] ?? size, events } });
          worker.once('message', resolve);
          worker.once('error', reject);
          worker.once('exit', (code) => reject(new Error(`trace scan worker exited with ${code} before it answered`)));
        }),
    ),
  );
  return mergeScannedPieces(pieces);
}
