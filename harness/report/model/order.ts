/**
 * Step of the report model: the design as it ran, read from the records' seq and block (pure). The
 * profile says what was wanted; this says what happened, and whether drift between the compared
 * variants is controlled (interleaved blocks, each variant at the same mean position in run order).
 */
import type { MigrationRow, OrderGroup, RunOrder } from './types.ts';

const groupKey = (r: { vmSize: string; queuePairs: number | null }) => `${r.vmSize}|${r.queuePairs ?? '-'}`;

export function orderGroups(rows: MigrationRow[], variants: string[]): OrderGroup[] {
  const byGroup = new Map<string, MigrationRow[]>();
  for (const r of rows) byGroup.set(groupKey(r), [...(byGroup.get(groupKey(r)) ?? []), r]);
  return [...byGroup.values()].map((group) => {
    // Consecutive rows of one cell and one block form a block; without block numbers, runs of one variant do.
    const blocks: { variant: string; measured: number; block: number }[] = [];
    for (const r of group) {
      const last = blocks.at(-1);
      if (last && last.variant === r.variant && last.block === r.block) last.measured += r.warmup ? 0 : 1;
      else blocks.push({ variant: r.variant, block: r.block, measured: r.warmup ? 0 : 1 });
    }
    const meanPosition: Record<string, number> = {};
    const present = variants.filter((v) => group.some((r) => r.variant === v));
    for (const v of present) {
      const seqs = group.filter((r) => r.variant === v && !r.warmup).map((r) => r.seq);
      if (seqs.length) meanPosition[v] = seqs.reduce((a, b) => a + b, 0) / seqs.length;
    }
    const positions = Object.values(meanPosition);
    const spread = positions.length > 1 ? Math.max(...positions) - Math.min(...positions) : 0;
    const perCell = Math.max(1, ...present.map((v) => group.filter((r) => r.variant === v && !r.warmup).length));
    const blocksPerVariant = present.map((v) => blocks.filter((b) => b.variant === v).length);
    const interleaved = present.length > 1 && blocksPerVariant.every((n) => n >= 2);
    return {
      vmSize: group[0].vmSize,
      queuePairs: group[0].queuePairs,
      blocks: blocks.map(({ variant, measured }) => ({ variant, measured })),
      meanPosition,
      spread,
      interleaved,
      balanced: present.length < 2 || spread <= perCell / 4,
    };
  });
}

const fixed = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

export function runOrder(rows: MigrationRow[], variants: string[], seqSource: RunOrder['seqSource'], runCount = 1): RunOrder {
  if (runCount > 1) {
    return {
      groups: [],
      seqSource,
      sentence: `As run: ${runCount} separate runs compared, one after the other; drift between the runs (host state, time of day) is not controlled by any design.`,
    };
  }
  const groups = orderGroups(rows, variants);
  const parts = groups.map((g) => {
    const name = `${g.vmSize}${g.queuePairs !== null ? ` ${g.queuePairs}qp` : ''}`;
    const sequence = g.blocks.map((b) => `${b.variant}×${b.measured}`).join(' → ');
    const positions = Object.entries(g.meanPosition)
      .map(([v, p]) => `${v} ${fixed(p)}`)
      .join(', ');
    const verdict =
      Object.keys(g.meanPosition).length < 2
        ? 'one variant'
        : !g.interleaved
          ? 'NOT interleaved: each cell ran as one contiguous block, so drift over the run is not controlled and each comparison sets one block against one block'
          : g.balanced
            ? `interleaved, mean positions within ${fixed(g.spread)} migrations of each other (drift balanced)`
            : `interleaved but unbalanced: mean positions ${fixed(g.spread)} migrations apart (more than a quarter of a cell), drift is only partly controlled`;
    return `${name}: blocks ${sequence}; mean run-order position ${positions}; ${verdict}`;
  });
  const source = seqSource === 'records' ? 'seq and block of each record' : 'file order (the records carry no seq)';
  return { groups, seqSource, sentence: `As run (from the ${source}; "variant×n" is one guest boot with n measured migrations): ${parts.join('. ')}.` };
}
