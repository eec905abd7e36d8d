/**
 * Memory sizes as lab engineers write them: `39G`, `39GiB`, `0.5G`, `512M`, `128g`.
 * Units are binary (QEMU's `-m 39G` means 39 GiB), so `G`, `GB` and `GiB` all mean 2^30.
 */
const UNIT_SHIFT: Record<string, number> = { '': 0, K: 10, M: 20, G: 30, T: 40 };
const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i;

export function parseSize(text: string): number {
  const match = SIZE_PATTERN.exec(text.trim());
  if (!match) {
    throw new Error(`"${text}" is not a size: write a positive number with a unit, e.g. 512M, 39G, 0.5G or 128GiB`);
  }
  const value = Number(match[1]);
  const bytes = value * 2 ** UNIT_SHIFT[match[2].toUpperCase()];
  if (!(bytes > 0)) throw new Error(`"${text}" is not a positive size`);
  if (!Number.isInteger(bytes)) throw new Error(`"${text}" is not a whole number of bytes`);
  return bytes;
}

/** Size in MiB for QEMU's `-m`; QEMU needs whole MiB. */
export function sizeToMiB(bytes: number): number {
  if (bytes % 2 ** 20 !== 0) throw new Error(`${bytes} bytes is not a whole number of MiB, which QEMU requires`);
  return bytes / 2 ** 20;
}

export function formatBytes(bytes: number): string {
  for (const [unit, shift] of [
    ['T', 40],
    ['G', 30],
    ['M', 20],
    ['K', 10],
  ] as const) {
    if (bytes >= 2 ** shift && bytes % 2 ** shift === 0) return `${bytes / 2 ** shift}${unit}`;
  }
  return `${bytes}B`;
}

const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** Durations: `90s`, `5m`, `250ms`, or a bare number of seconds. */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (!(text > 0)) throw new Error(`${text} is not a positive duration`);
    return text * 1000;
  }
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration: write e.g. 250ms, 90s, 5m or 1h`);
  const ms = Number(match[1]) * DURATION_MS[match[2] ?? 's'];
  if (!(ms > 0)) throw new Error(`"${text}" is not a positive duration`);
  return ms;
}
