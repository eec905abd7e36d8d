/**
 * Step of the report model: how far each trace metric agrees with the primary (pure). A steady
 * offset between two definitions (the network sees the guest later than the runstate flips) is
 * a property of the pair, shown once as its mean difference and limits of agreement (Bland–Altman)
 * and judged once against a tolerance that is absolute and relative together (abs + rel·|primary|):
 * the pair agrees, differs by a steady offset, or varies apart. A migration is flagged only when its
 * difference lies outside both the tolerance and the pair's own limits of agreement, so neither a
 * 2 ms wobble on a 5 ms downtime nor a steady 40 ms offset flags every row.
 */
import { mean, median, standardDeviation } from '../../stats/describe.ts';
import type { AgreementRow, MetricInfo, MigrationRow } from './types.ts';

/** Absolute part of the tolerance, ms: below this, two trace-derived spans are the same downtime. */
export const AGREEMENT_TOLERANCE_MS = 5;

export function metricAgreement(rows: MigrationRow[], metrics: MetricInfo[], primary: string, tolerancePct: number): AgreementRow[] {
  const measured = rows.filter((r) => !r.warmup && r.status === 'ok' && r.values[primary] !== null);
  return metrics
    .filter((m) => !m.primary && m.checked)
    .map((m) => {
      const pairs = measured.filter((r) => r.values[m.name] !== null).map((r) => ({ row: r, diff: r.values[m.name]! - r.values[primary]! }));
      if (pairs.length === 0) return { metric: m.name, n: 0, meanDiffMs: null, limits: null, verdict: 'no migration has both values', flaggedSeqs: [] };
      const diffs = pairs.map((p) => p.diff);
      const offset = mean(diffs);
      const sd = standardDeviation(diffs);
      const halfWidth = sd === null ? 0 : 1.96 * sd;
      const tolerance = (p: number) => AGREEMENT_TOLERANCE_MS + (tolerancePct / 100) * Math.abs(p);
      const typical = median(pairs.map((p) => tolerance(p.row.values[primary]!)));
      const flagged: number[] = [];
      for (const { row, diff } of pairs) {
        const p = row.values[primary]!;
        const toleranceMs = Math.max(tolerance(p), halfWidth);
        const off = Math.abs(diff - offset);
        if (off > toleranceMs) {
          row.disagreements.push({ metric: m.name, value: row.values[m.name]!, primaryValue: p, offFromOffsetMs: off, toleranceMs });
          flagged.push(row.seq);
        }
      }
      const verdict =
        halfWidth > typical
          ? `varies apart: limits of agreement ±${halfWidth.toFixed(1)} ms, wider than the tolerance (~${typical.toFixed(1)} ms)`
          : Math.abs(offset) > typical
            ? `steady offset of ${offset >= 0 ? '+' : ''}${offset.toFixed(1)} ms (spread ±${halfWidth.toFixed(1)} ms within the tolerance)`
            : `agrees within the tolerance (~${typical.toFixed(1)} ms)`;
      return {
        metric: m.name,
        n: pairs.length,
        meanDiffMs: offset,
        limits: sd === null ? null : [offset - halfWidth, offset + halfWidth],
        verdict,
        flaggedSeqs: flagged,
      };
    });
}
