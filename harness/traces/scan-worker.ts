/**
 * Worker thread body for scanTraceFileParallel: scans bytes [start, end) of one trace file (start
 * is a line start) and posts the result with its line count. Loaded only as a worker.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { SCAN_CHUNK_BYTES } from './read.ts';
import { TraceScanner } from './scan.ts';

export interface ScanPiece {
  path: string;
  start: number;
  end: number;
  events: string[] | null;
}

function scanPiece({ path, start, end, events }: ScanPiece) {
  const fd = openSync(path, 'r');
  try {
    const scanner = new TraceScanner(events ? { events: new Set(events) } : {});
    const buffer = Buffer.allocUnsafe(SCAN_CHUNK_BYTES);
    for (let position = start; position < end; ) {
      const bytesRead = readSync(fd, buffer, 0, Math.min(SCAN_CHUNK_BYTES, end - position), position);
      if (bytesRead === 0) break;
      scanner.push(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    const result = scanner.end();
    return { result, lines: scanner.lines };
  } finally {
    closeSync(fd);
  }
}

if (parentPort && workerData) parentPort.postMessage(scanPiece(workerData as ScanPiece));
