/** `--shard i/n`: a deterministic slice of the schedule, by block (pure). */
import type { Block } from '../migration/schedule.ts';

export interface Shard {
  index: number;
  count: number;
}

export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`--shard ${text}: expected i/n, e.g. 1/4`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) throw new Error(`--shard ${text}: i must be between 1 and n (n ≥ 1)`);
  return { index, count };
}

export function formatShard(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

/**
 * Blocks are dealt round-robin in schedule order, so every shard gets a similar mix of cells and
 * each block (one VM boot) stays whole. Migration seq numbers are those of the full schedule, so
 * shard results merge without renumbering.
 */
export function shardBlocks(blocks: readonly Block[], shard: Shard): Block[] {
  return blocks.filter((_, i) => i % shard.count === shard.index - 1);
}
