/**
 * A cell of the profile's matrix: one variant at one VM size and queue-pair count. Migrations,
 * records, statistics and verdicts are all grouped by cell; this is the one definition of it,
 * its key (for maps) and its label (for people).
 */

export interface Cell {
  variant: string;
  vmSize: string;
  queuePairs: number | null;
}

/** Map key of a cell (or of anything that names one, such as an iteration record). */
export function cellKey(cell: Cell): string {
  return `${cell.variant}|${cell.vmSize}|${cell.queuePairs ?? '-'}`;
}

/** "before 39G 8qp"; without a queue-pair count for non-vDPA cells. */
export function cellLabel(cell: Cell): string {
  return `${cell.variant} ${cell.vmSize}${cell.queuePairs !== null ? ` ${cell.queuePairs}qp` : ''}`;
}

/** Just the cell of a record (or planned migration), without the rest of it. */
export function cellOf(item: Cell): Cell {
  return { variant: item.variant, vmSize: item.vmSize, queuePairs: item.queuePairs };
}
