/** How a number reads, in the model's sentences (warnings) and in every renderer (pure): "2.09 s", "48.2 ms", "+3.1%". */
import type { Interval } from '../../stats/bootstrap.ts';
import { SMALL_N_TEXT } from './types.ts';

/** A downtime in ms, in the unit a reader expects: "2.09 s" or "48.2 ms". */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return Math.abs(value) >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`;
}

export function interval(ci: Interval | null | undefined): string {
  if (!ci) return '—';
  return `[${ms(ci[0])}, ${ms(ci[1])}]`;
}

export function signedMs(value: number): string {
  return `${value >= 0 ? '+' : '-'}${ms(Math.abs(value))}`;
}

export function pct(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `${value >= 0 ? '+' : '-'}${Math.abs(value).toFixed(digits)}%`;
}

export function rate(ok: number, total: number): string {
  return total === 0 ? '—' : `${ok}/${total} (${Math.round((ok / total) * 100)}%)`;
}

export function queuePairsText(qp: number | null): string {
  return qp === null ? 'no vDPA NIC' : `${qp} qp`;
}

/** A bootstrap interval, or why there is none. */
export function ciText(ci: Interval | null | undefined, shown: boolean): string {
  return shown ? interval(ci) : `(${SMALL_N_TEXT})`;
}

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value >= 1e9 ? `${(value / 1e9).toFixed(2)} GB` : value >= 1e6 ? `${(value / 1e6).toFixed(1)} MB` : `${(value / 1e3).toFixed(1)} kB`;
}
