/** summary.json: the report model itself, every number the other formats show (schema `vdpa-bench/summary@2`). */
import type { Summary } from '../model/types.ts';

export function renderJson(summary: Summary): string {
  return JSON.stringify(summary, null, 2) + '\n';
}
