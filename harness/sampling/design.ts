/** One sentence naming how a run ordered its migrations, for the manifest and reports. */
import type { DesignOrder } from '../migration/schedule.ts';

export function describeDesign(order: DesignOrder, seed: number, blockSize: number | undefined, variants: readonly string[]): string {
  const blocks = blockSize
    ? `blocks of ${blockSize} measured migration${blockSize === 1 ? '' : 's'} per guest boot`
    : order === 'sequential'
      ? 'one block (guest boot) per cell'
      : 'at least two blocks (guest boots) per cell, sized so each variant has the same mean position in run order';
  if (variants.length < 2) return `single variant (${variants[0] ?? 'none'}); ${blocks}`;
  if (order === 'sequential') return `sequential: all of ${variants[0]} first, then each next variant (no protection against drift); ${blocks}`;
  if (order === 'interleaved')
    return `interleaved ABBA: variants alternate ${variants.join('-')}, then reversed, round by round (removes linear drift); ${blocks}`;
  return `randomized blocks: variant order shuffled every round with seed ${seed} (reproducible); ${blocks}`;
}
