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
  /** Measured migrations per block; default all of a cell's iterations in one block. */
  blockSize?: number;
  seed: number;
}

export function buildSchedule(input: ScheduleInput): Block[] {
  const blockSize = Math.max(1, Math.min(input.blockSize ?? input.iterations, input.iterations));
  const rounds = Math.ceil(input.iterations / blockSize);
  const random = seededRandom(input.seed);
  const order: Cell[][] = []; // each entry: the cells of one round, in run order
  for (const vmSize of input.vmSizes) {
    for (const queuePairs of input.queuePairs) {
      const cells = input.variants.map((variant) => ({ variant, vmSize, queuePairs }));
      if (input.order === 'sequential') {
        for (const cell of cells) for (let r = 0; r < rounds; r++) order.push([cell]);
        continue;
      }
      for (let r = 0; r < rounds; r++) {
        const round = input.order === 'interleaved' ? (r % 2 === 0 ? cells : [...cells].reverse()) : shuffle(cells, random);
        order.push(round);
      }
    }
  }
  const measuredSoFar = new Map<string, number>();
  const warmupsSoFar = new Map<string, number>();
  const blocks: Block[] = [];
  let seq = 0;
  for (const round of order) {
    for (const cell of round) {
      const key = cellKey(cell);
      const done = measuredSoFar.get(key) ?? 0;
      const count = Math.min(blockSize, input.iterations - done);
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
