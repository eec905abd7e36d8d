/**
 * The migration engine: runs a schedule block by block (harness/migration/block.ts boots a guest
 * and migrates it back and forth), skipping migrations already recorded, cells adaptive sampling
 * has finished and cells abandoned after too many failures in a row.
 */
import { cellKey } from '../profile/cell.ts';
import type { IterationRecord } from '../results/types.ts';
import { runBlock } from './block.ts';
import { throwIfAborted, type EngineOptions } from './interfaces.ts';
import type { Block } from './schedule.ts';

export async function runSchedule(blocks: readonly Block[], options: EngineOptions): Promise<IterationRecord[]> {
  const total = blocks.reduce((n, b) => n + b.migrations.length, 0);
  const records: IterationRecord[] = [];
  const streaks = options.failureStreaks ?? new Map<string, number>();
  const abandoned = new Set(options.abandonedCells ?? []);
  const accel = { current: options.accel, firstBootDone: false };
  for (const block of blocks) {
    if (abandoned.has(cellKey(block.cell))) continue;
    const pending = block.migrations.filter((m) => !options.done?.has(m.seq));
    if (pending.length === 0 || options.sampling?.isDone(block.cell)) continue;
    throwIfAborted(options.signal);
    options.progress.blockStarted(block, total);
    for (const hook of options.hooks ?? []) await hook.beforeBlock?.({ block });
    const outcome = await runBlock(block, pending, options, { total, streaks, accel });
    records.push(...outcome.records);
    if (outcome.abandonReason) {
      abandoned.add(cellKey(block.cell));
      await options.onCellAbandoned?.(block.cell, outcome.abandonReason, outcome.records.at(-1)?.seq ?? 0);
    }
  }
  return records;
}
