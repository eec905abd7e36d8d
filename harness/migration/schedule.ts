/**
 * The order migrations run in (pure). A block is one guest boot on the first host followed by
 * back-to-back migrations A→B, B→A, ...: its warm-ups first, then measured migrations.
 * Interleaving variants in ABBA or seeded random blocks removes drift bias between them.
 */
import { cellKey, type Cell } from '../profile/cell.ts';
import { seededRandom } from '../stats/random.ts';

export interface PlannedMigration {
  seq: number;
  block: number;
  cell: Cell;
  /** 1-based within the cell, counted separately for warm-ups and measured migrations. */
  iteration: number;
  warmup: boolean;
  /** 0: first host → second host; 1: back. */
  direction: 0 | 1;
}

export interface Block {
  index: number;
  cell: Cell;
  migrations: PlannedMigration[];
}

export type DesignOrder = 'sequential' | 'interleaved' | 'randomized';

export interface ScheduleInput {
  vmSizes: string[];
  queuePairs: (number | null)[];
  variants: string[];
  iterations: number;
  warmup: number;
  order: DesignOrder;
  /**
   * Measured migrations per block. Default: all of a cell's iterations in one block for
   * `sequential`; for `interleaved` and `randomized` at least two blocks per cell (round sizes
   * chosen so each variant's mean run-order position is balanced, see balancedRounds).
   */
  blockSize?: number;
  seed: number;
}

/** Round sizes (measured migrations per block, per round) and whether each round runs the variants reversed. */
interface RoundPlan {
  sizes: number[];
  reversed: boolean[];
}

/**
 * ABBA rounds that balance drift. A variant's mean run-order position depends on its slot in each
 * round weighted by s·(s + warm-ups) (the span its block takes): forward and reversed rounds cancel
 * when those weights sum equal. An even count splits in two equal halves (forward, reversed: exact);
 * an odd count takes the fewest rounds (each one more guest boot and its warm-ups) that bring every
 * variant's mean position within a quarter of the cell's count, or the best of up to four rounds.
 */
export function balancedRounds(iterations: number, warmup: number, variants: number): RoundPlan {
  if (iterations < 2) return { sizes: [Math.max(1, iterations)], reversed: [false] };
  if (iterations % 2 === 0) return { sizes: [iterations / 2, iterations / 2], reversed: [false, true] };
  // Mean-position spread between the first and last slot, in migrations: imbalance × (variants − 1) / iterations.
  const spread = (imbalance: number) => (imbalance * Math.max(1, variants - 1)) / iterations;
  let best = null as { plan: RoundPlan; imbalance: number } | null;
  for (let rounds = 2; rounds <= Math.min(4, iterations); rounds++) {
    for (const sizes of compositions(iterations, rounds)) {
      for (let mask = 0; mask < 1 << rounds; mask++) {
        const reversed = sizes.map((_, i) => ((mask >> i) & 1) === 1);
        if (reversed[0]) continue; // the first round runs the profile order
        const weight = (s: number) => s * (s + warmup);
        const imbalance = Math.abs(sizes.reduce((sum, s, i) => sum + (reversed[i] ? -weight(s) : weight(s)), 0));
        if (!best || imbalance < best.imbalance) best = { plan: { sizes, reversed }, imbalance };
      }
    }
    if (best && spread(best.imbalance) <= iterations / 4) break;
  }
  return best!.plan;
}

function* compositions(total: number, parts: number): Generator<number[]> {
  if (parts === 1) {
    yield [total];
    return;
  }
  // Larger blocks first: fewer early reboots, and the same plan every time.
  for (let first = total - parts + 1; first >= 1; first--) for (const rest of compositions(total - first, parts - 1)) yield [first, ...rest];
}

function roundPlan(input: ScheduleInput): RoundPlan {
  if (input.blockSize !== undefined || input.order === 'sequential') {
    const blockSize = Math.max(1, Math.min(input.blockSize ?? input.iterations, input.iterations));
    const rounds = Math.ceil(input.iterations / blockSize);
    const sizes = Array.from({ length: rounds }, (_, r) => Math.min(blockSize, input.iterations - r * blockSize));
    return { sizes, reversed: sizes.map((_, r) => r % 2 === 1) };
  }
  return balancedRounds(input.iterations, input.warmup, input.variants.length);
}

export function buildSchedule(input: ScheduleInput): Block[] {
  const plan = roundPlan(input);
  const random = seededRandom(input.seed);
  const order: { cells: Cell[]; size: number }[] = []; // each round: its cells in run order and its block size
  for (const vmSize of input.vmSizes) {
    for (const queuePairs of input.queuePairs) {
      const cells = input.variants.map((variant) => ({ variant, vmSize, queuePairs }));
      if (input.order === 'sequential') {
        for (const cell of cells) for (const size of plan.sizes) order.push({ cells: [cell], size });
        continue;
      }
      plan.sizes.forEach((size, r) => {
        const round = input.order === 'interleaved' ? (plan.reversed[r] ? [...cells].reverse() : cells) : shuffle(cells, random);
        order.push({ cells: round, size });
      });
    }
  }
  const measuredSoFar = new Map<string, number>();
  const warmupsSoFar = new Map<string, number>();
  const blocks: Block[] = [];
  let seq = 0;
  for (const round of order) {
    for (const cell of round.cells) {
      const key = cellKey(cell);
      const done = measuredSoFar.get(key) ?? 0;
      const count = Math.min(round.size, input.iterations - done);
      if (count <= 0) continue;
      const block: Block = { index: blocks.length + 1, cell, migrations: [] };
      let direction: 0 | 1 = 0;
      const push = (warmup: boolean, iteration: number) => {
        block.migrations.push({ seq: ++seq, block: block.index, cell, iteration, warmup, direction });
        direction = direction === 0 ? 1 : 0;
      };
      for (let w = 0; w < input.warmup; w++) {
        const n = (warmupsSoFar.get(key) ?? 0) + 1;
        warmupsSoFar.set(key, n);
        push(true, n);
      }
      for (let i = 1; i <= count; i++) push(false, done + i);
      measuredSoFar.set(key, done + count);
      blocks.push(block);
    }
  }
  return blocks;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
