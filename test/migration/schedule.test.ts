import test from 'ava';
import { buildSchedule, type DesignOrder } from '../../harness/migration/schedule.ts';

/** Each variant's mean run-order position (seq) over its measured migrations, per VM size. */
function meanPositions(blocks: ReturnType<typeof buildSchedule>): Map<string, Map<string, number>> {
  const positions = new Map<string, Map<string, number[]>>();
  for (const block of blocks) {
    for (const m of block.migrations) {
      if (m.warmup) continue;
      const bySize = positions.get(m.cell.vmSize) ?? new Map<string, number[]>();
      bySize.set(m.cell.variant, [...(bySize.get(m.cell.variant) ?? []), m.seq]);
      positions.set(m.cell.vmSize, bySize);
    }
  }
  return new Map(
    [...positions].map(([size, byVariant]) => [size, new Map([...byVariant].map(([v, seqs]) => [v, seqs.reduce((a, b) => a + b, 0) / seqs.length]))]),
  );
}

const input = (iterations: number, warmup: number, variants: string[], order: DesignOrder = 'interleaved') => ({
  vmSizes: ['512M', '1G'],
  queuePairs: [null],
  variants,
  iterations,
  warmup,
  order,
  seed: 7,
});

test('interleaved by default: every variant at the same mean run-order position within a quarter of a cell count, for every VM size', (t) => {
  for (const variants of [
    ['a', 'b'],
    ['idle', 'limit-300ms', 'limit-100ms'],
    ['a', 'b', 'c', 'd'],
  ]) {
    for (let iterations = 4; iterations <= 12; iterations++) {
      for (const warmup of [0, 1, 2]) {
        for (const [size, means] of meanPositions(buildSchedule(input(iterations, warmup, variants)))) {
          const spread = Math.max(...means.values()) - Math.min(...means.values());
          t.true(
            spread <= iterations / 4,
            `${variants.length} variants, ${iterations} iterations, ${warmup} warm-up, ${size}: mean positions ${JSON.stringify([...means])} spread ${spread}`,
          );
        }
      }
    }
  }
});

test('interleaved by default: at least two blocks per cell, ABBA within each VM size, every iteration scheduled once', (t) => {
  const blocks = buildSchedule(input(5, 1, ['idle', 'limit-300ms', 'limit-100ms']));
  for (const size of ['512M', '1G']) {
    const sizeBlocks = blocks.filter((b) => b.cell.vmSize === size);
    const perCell = new Map<string, number>();
    for (const b of sizeBlocks) perCell.set(b.cell.variant, (perCell.get(b.cell.variant) ?? 0) + 1);
    for (const [variant, count] of perCell) t.true(count >= 2, `${size} ${variant}: ${count} block(s)`);
    // The first round runs the profile order, the second the reverse.
    t.deepEqual(
      sizeBlocks.slice(0, 6).map((b) => b.cell.variant),
      ['idle', 'limit-300ms', 'limit-100ms', 'limit-100ms', 'limit-300ms', 'idle'],
    );
    for (const variant of perCell.keys()) {
      const iterations = sizeBlocks.filter((b) => b.cell.variant === variant).flatMap((b) => b.migrations.filter((m) => !m.warmup).map((m) => m.iteration));
      t.deepEqual(iterations, [1, 2, 3, 4, 5]);
    }
  }
});

test('sequential keeps one block per cell, and an explicit block size is honoured', (t) => {
  const sequential = buildSchedule(input(5, 1, ['a', 'b'], 'sequential'));
  t.is(sequential.length, 4);
  const explicit = buildSchedule({ ...input(6, 0, ['a', 'b']), blockSize: 6 });
  t.is(explicit.length, 4, 'blockSize 6 of 6: one block per cell, as asked');
});
