/**
 * Tonight against the history (pure): per cell, a regression is a downtime increase that is
 * both statistically significant (one-sided Mann–Whitney against the pooled samples of the
 * trailing window of comparable nights) and larger than the profile's noise threshold.
 * Comparable = same profile, same lab fingerprint. Change points are searched across all
 * comparable nights including tonight.
 */
import { cellKey, cellLabel, cellOf, type Cell } from '../profile/cell.ts';
import type { IterationRecord } from '../results/types.ts';
import { fingerprintChanges } from '../results/fingerprint.ts';
import type { HistoryRun } from './history.ts';
import { detectChangePoints } from '../stats/change-points.ts';
import { median } from '../stats/describe.ts';
import { mannWhitney } from '../stats/mann-whitney.ts';

export type CellVerdictKind = 'regression' | 'improvement' | 'ok' | 'no-baseline' | 'no-data';

export interface NightlyOptions {
  /** Earlier comparable nights pooled as the baseline. */
  window: number;
  /** Fewest earlier nights with data before a verdict is given. */
  minBaselineNights: number;
  alpha: number;
  noiseThresholdPct: number;
  /** Fewest nights on each side of a change point. */
  minSegment: number;
}

export const DEFAULT_NIGHTLY_OPTIONS: Omit<NightlyOptions, 'noiseThresholdPct'> = { window: 7, minBaselineNights: 3, alpha: 0.01, minSegment: 3 };

export interface CellVerdict {
  cell: Cell;
  label: string;
  verdict: CellVerdictKind;
  reason: string;
  tonight: { n: number; medianMs: number | null; notOk: number };
  baseline: { nights: string[]; n: number; medianMs: number | null };
  changePct: number | null;
  pValue: number | null;
  test?: string;
  changePoints: { runId: string; startedAt: string; beforeMedianMs: number; afterMedianMs: number; changePct: number; pValue: number }[];
  abandoned?: string;
}

export interface NightlyVerdict {
  profile: string;
  runId: string;
  runDir: string;
  fingerprint: string;
  fingerprintChange: { previousRunId: string; previousFingerprint: string; changes: string[] } | null;
  comparableNights: string[];
  options: NightlyOptions;
  cells: CellVerdict[];
  regression: boolean;
  exitCode: 0 | 1 | 2;
  runState: string;
  runError?: string;
}

function samples(records: readonly IterationRecord[], key: string): number[] {
  return records.filter((r) => !r.warmup && r.status === 'ok' && r.downtimeMs !== null && cellKey(r) === key).map((r) => r.downtimeMs as number);
}

/** Cells the run planned (from its options), in matrix order, plus any only seen in records. */
export function plannedCells(run: HistoryRun): Cell[] {
  const o = run.manifest.options;
  const cells: Cell[] = [];
  for (const vmSize of o.vmSizes) for (const queuePairs of o.queuePairs) for (const variant of o.variants) cells.push({ variant, vmSize, queuePairs });
  for (const r of run.records) {
    const cell = cellOf(r);
    if (!cells.some((c) => cellKey(c) === cellKey(cell))) cells.push(cell);
  }
  return cells;
}

export function compareNight(tonight: HistoryRun, history: readonly HistoryRun[], options: NightlyOptions): NightlyVerdict {
  const earlier = history.filter(
    (h) =>
      h.manifest.profile.name === tonight.manifest.profile.name &&
      h.manifest.runId !== tonight.manifest.runId &&
      h.manifest.startedAt < tonight.manifest.startedAt,
  );
  const comparable = earlier.filter((h) => h.fingerprint.hash === tonight.fingerprint.hash && h.manifest.state === 'completed');
  const previous = earlier.at(-1);
  const fingerprintChange =
    previous && previous.fingerprint.hash !== tonight.fingerprint.hash
      ? {
          previousRunId: previous.manifest.runId,
          previousFingerprint: previous.fingerprint.hash,
          changes: fingerprintChanges(previous.fingerprint, tonight.fingerprint),
        }
      : null;
  const abandoned = new Map(((tonight.manifest.abandonedCells as { cell: Cell; reason: string }[] | undefined) ?? []).map((a) => [cellKey(a.cell), a.reason]));
  const night: Night = { tonight, comparable, fingerprintChange, abandoned, options };
  const cells = plannedCells(tonight).map((cell) => cellVerdict(night, cell));

  const regression = cells.some((c) => c.verdict === 'regression');
  return {
    profile: tonight.manifest.profile.name,
    runId: tonight.manifest.runId,
    runDir: tonight.dir,
    fingerprint: tonight.fingerprint.hash,
    fingerprintChange,
    comparableNights: comparable.map((h) => h.manifest.runId),
    options,
    cells,
    regression,
    exitCode: regression ? 1 : 0,
    runState: tonight.manifest.state,
  };
}

/** What every cell of tonight is judged against: the comparable earlier nights, a fingerprint change, the cells the run abandoned. */
interface Night {
  tonight: HistoryRun;
  comparable: HistoryRun[];
  fingerprintChange: NightlyVerdict['fingerprintChange'];
  abandoned: Map<string, string>;
  options: NightlyOptions;
}

/** One cell: no data, no baseline yet, or tonight's samples against the pooled window of earlier nights. */
function cellVerdict({ tonight, comparable, fingerprintChange, abandoned, options }: Night, cell: Cell): CellVerdict {
  const key = cellKey(cell);
  const tonightSamples = samples(tonight.records, key);
  const notOk = tonight.records.filter((r) => !r.warmup && r.status !== 'ok' && cellKey(r) === key).length;
  const withData = comparable.filter((h) => samples(h.records, key).length > 0);
  const window = withData.slice(-options.window);
  const baselineSamples = window.flatMap((h) => samples(h.records, key));
  const verdict: CellVerdict = {
    cell,
    label: cellLabel(cell),
    verdict: 'ok',
    reason: '',
    tonight: { n: tonightSamples.length, medianMs: tonightSamples.length ? median(tonightSamples) : null, notOk },
    baseline: { nights: window.map((h) => h.manifest.runId), n: baselineSamples.length, medianMs: baselineSamples.length ? median(baselineSamples) : null },
    changePct: null,
    pValue: null,
    changePoints: cellChangePoints([...withData, tonight], key, options),
  };
  if (abandoned.has(key)) verdict.abandoned = abandoned.get(key);
  if (tonightSamples.length === 0) {
    verdict.verdict = 'no-data';
    verdict.reason = abandoned.has(key) ? `cell abandoned: ${abandoned.get(key)}` : `no ok measured migration tonight (${notOk} not ok)`;
    return verdict;
  }
  if (window.length < options.minBaselineNights) {
    verdict.verdict = 'no-baseline';
    const why =
      fingerprintChange && comparable.length === 0
        ? `the lab fingerprint changed (${fingerprintChange.changes.length} difference${fingerprintChange.changes.length === 1 ? '' : 's'}): not compared with earlier nights`
        : `${window.length} comparable earlier night${window.length === 1 ? '' : 's'} with data, ${options.minBaselineNights} needed`;
    verdict.reason = why;
    return verdict;
  }
  judgeChange(verdict, { tonightSamples, baselineSamples, nights: window.length }, options);
  return verdict;
}

/** Change points across the cell's nights with data (tonight last), named by the night they start at. */
function cellChangePoints(nights: HistoryRun[], key: string, options: NightlyOptions): CellVerdict['changePoints'] {
  const series = nights.map((h) => ({ run: h, values: samples(h.records, key) })).filter((s) => s.values.length > 0);
  return detectChangePoints(
    series.map((s) => s.values),
    { minSegment: options.minSegment, alpha: options.alpha, noisePct: options.noiseThresholdPct },
  ).map((cp) => ({
    runId: series[cp.index].run.manifest.runId,
    startedAt: series[cp.index].run.manifest.startedAt,
    beforeMedianMs: cp.beforeMedian,
    afterMedianMs: cp.afterMedian,
    changePct: cp.changePct,
    pValue: cp.pValue,
  }));
}

/**
 * Regression, improvement or ok: a change counts only when it is both larger than the noise
 * threshold and significant (one-sided Mann–Whitney) in its direction. Fills in `verdict`.
 */
function judgeChange(
  verdict: CellVerdict,
  { tonightSamples, baselineSamples, nights }: { tonightSamples: number[]; baselineSamples: number[]; nights: number },
  options: NightlyOptions,
): void {
  const baselineMedian = verdict.baseline.medianMs!;
  const changePct = ((verdict.tonight.medianMs! - baselineMedian) / baselineMedian) * 100;
  verdict.changePct = changePct;
  const worse = mannWhitney(tonightSamples, baselineSamples, 'greater');
  const better = mannWhitney(tonightSamples, baselineSamples, 'less');
  const describe = `median ${verdict.tonight.medianMs!.toFixed(2)} ms vs ${baselineMedian.toFixed(2)} ms over ${nights} nights (${changePct >= 0 ? '+' : ''}${changePct.toFixed(1)}%)`;
  if (worse.p < options.alpha && changePct > options.noiseThresholdPct) {
    Object.assign(verdict, {
      verdict: 'regression',
      pValue: worse.p,
      test: worse.method,
      reason: `${describe}, Mann–Whitney p=${worse.p.toPrecision(3)} < ${options.alpha}`,
    });
  } else if (better.p < options.alpha && changePct < -options.noiseThresholdPct) {
    Object.assign(verdict, {
      verdict: 'improvement',
      pValue: better.p,
      test: better.method,
      reason: `${describe}, Mann–Whitney p=${better.p.toPrecision(3)}`,
    });
  } else {
    const p = Math.min(worse.p, better.p);
    const why =
      Math.abs(changePct) <= options.noiseThresholdPct
        ? `within the ${options.noiseThresholdPct}% noise threshold`
        : `not significant (p=${p.toPrecision(3)} ≥ ${options.alpha})`;
    Object.assign(verdict, { verdict: 'ok', pValue: p, test: worse.method, reason: `${describe}: ${why}` });
  }
}
