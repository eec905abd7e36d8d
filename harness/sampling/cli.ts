/** `vdpa-bench samples`: pilot runs in, per-cell sample sizes out. */
import { cellKey, cellLabel, cellOf, type Cell } from '../profile/cell.ts';
import { readIterations } from '../results/store.ts';
import { estimateSamples, parseChange, type SampleSizeEstimate } from './samples.ts';

export interface SamplesRow {
  cell: string;
  pilot: number;
  estimate: SampleSizeEstimate | null;
  reason?: string;
}

export async function samplesFromRuns(dirs: string[], changeText: string, power: number, alpha: number) {
  const change = parseChange(changeText);
  const cells = new Map<string, { cell: Cell; values: number[] }>();
  for (const dir of dirs) {
    const { records } = await readIterations(dir);
    for (const r of records) {
      if (r.warmup || r.status !== 'ok' || r.downtimeMs === null) continue;
      const cell = cellOf(r);
      const entry = cells.get(cellKey(cell)) ?? { cell, values: [] };
      cells.set(cellKey(cell), entry);
      entry.values.push(r.downtimeMs);
    }
  }
  if (cells.size === 0) throw new Error(`${dirs.join(', ')}: no usable measured migrations to learn the spread from`);
  const rows: SamplesRow[] = [...cells.values()].map(({ cell, values }) => {
    try {
      return { cell: cellLabel(cell), pilot: values.length, estimate: estimateSamples({ values, change, power, alpha }) };
    } catch (error) {
      return { cell: cellLabel(cell), pilot: values.length, estimate: null, reason: (error as Error).message };
    }
  });
  const lines = [`To detect a ${(change * 100).toFixed(1)}% change of the median with power ${power} (two-sided alpha ${alpha}):`];
  for (const row of rows) {
    const e = row.estimate;
    lines.push(
      e
        ? `  ${row.cell.padEnd(32)} ${String(e.perVariant).padStart(5)} migrations per variant  (pilot ${row.pilot}: median ${e.median.toFixed(1)} ms, robust sd ${e.sigma.toFixed(1)} ms)`
        : `  ${row.cell.padEnd(32)} cannot estimate: ${row.reason}`,
    );
  }
  return { rows, text: lines.join('\n') + '\n' };
}
