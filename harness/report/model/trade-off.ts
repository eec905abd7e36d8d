/**
 * Step of the report model: what the change costs beside what it gains (pure). For each compared
 * pair of cells, from the same migrations as the downtime: the destination's start-up until QMP
 * greets and until it answers its first command, until it accepts migrate-incoming, the source's
 * start-up, the pinning and where it fell against the window, and the total migration time, each
 * with its Hodges–Lehmann shift and interval; the downtime's mean shift decomposed by phase (the
 * phases of every migration add up to its window, so their mean shifts add up to the downtime's);
 * and every cell whose downtime splits into two groups, explained by the phase that differs most.
 */
import { attributionOf, ATTRIBUTION_PHASES } from '../../metrics/downtime-attribution.ts';
import type { IterationRecord } from '../../results/types.ts';
import type { BootstrapSettings } from '../../stats/bootstrap.ts';
import { decomposeMeanShift } from '../../stats/decompose.ts';
import { median } from '../../stats/describe.ts';
import { twoGroups } from '../../stats/groups.ts';
import { hodgesLehmann } from '../../stats/hodges-lehmann.ts';
import {
  MIN_N_FOR_INTERVAL,
  type CellGroups,
  type CellSummary,
  type ComparisonRow,
  type SampleFigures,
  type TradeOff,
  type TradeOffFigure,
  type TradeOffRow,
} from './types.ts';

/** One trade-off figure of one migration, or why it has none. */
interface TradeOffMetric {
  key: string;
  label: string;
  value: (r: IterationRecord) => number | null;
  /** Said when no migration of a cell has it. */
  missing: string;
}

const startup = (r: IterationRecord) => r.extra?.startup;
const attribution = (r: IterationRecord) => attributionOf(r);

export const TRADE_OFF_METRICS: readonly TradeOffMetric[] = [
  {
    key: 'destinationGreetingMs',
    label: 'destination start-up → QMP greeting',
    value: (r) => startup(r)?.destination.greetingMs ?? null,
    missing: 'not recorded (records made before vdpa-bench timed the greeting apart from the first answer)',
  },
  {
    key: 'destinationFirstAnswerMs',
    label: 'destination start-up → first QMP command answered',
    // before extra.startup, destinationQmpReadyMs was spawn → qmp_capabilities answered (sent after the greeting)
    value: (r) => startup(r)?.destination.firstAnswerMs ?? r.destinationQmpReadyMs ?? null,
    missing: 'not recorded',
  },
  {
    key: 'incomingAcceptedMs',
    label: 'destination start-up → migrate-incoming accepted',
    value: (r) => startup(r)?.incomingAcceptedMs ?? null,
    missing: 'not recorded (records made before vdpa-bench timed migrate-incoming)',
  },
  {
    key: 'sourceFirstAnswerMs',
    label: 'source start-up → first QMP command answered',
    value: (r) => startup(r)?.source?.firstAnswerMs ?? null,
    missing: 'not recorded (records made before vdpa-bench timed the source start-up)',
  },
  { key: 'pinningMs', label: 'pinning (dma_map batches), total', value: (r) => attribution(r)?.pinning?.totalMs ?? null, missing: 'no vDPA pinning traced' },
  {
    key: 'pinningBeforeMs',
    label: 'pinning before the freeze',
    value: (r) => attribution(r)?.pinning?.beforeWindowMs ?? null,
    missing: 'no vDPA pinning traced',
  },
  {
    key: 'pinningInsideMs',
    label: 'pinning inside the downtime window',
    value: (r) => attribution(r)?.pinning?.insideWindowMs ?? null,
    missing: 'no vDPA pinning traced',
  },
  {
    key: 'pinningAfterMs',
    label: 'pinning after the window',
    value: (r) => attribution(r)?.pinning?.afterWindowMs ?? null,
    missing: 'no vDPA pinning traced',
  },
  { key: 'totalTimeMs', label: 'total migration time (QMP total-time)', value: (r) => r.qmp?.totalTimeMs ?? null, missing: 'no query-migrate figures' },
  {
    key: 'migrationSpanMs',
    label: 'source migrate → destination completed',
    value: (r) => r.migrationSpanMs ?? null,
    missing: 'not recorded',
  },
];

function figures(values: number[]): SampleFigures | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, median: median(sorted), min: sorted[0], max: sorted.at(-1)! };
}

const usable = (records: IterationRecord[], cell: string, cellOf: (r: IterationRecord) => string) =>
  records.filter((r) => !r.warmup && r.status === 'ok' && cellOf(r) === cell);

const phaseMs = (r: IterationRecord) => {
  const a = attributionOf(r);
  return a ? ATTRIBUTION_PHASES.map((p) => (a.phases.find((x) => x.name === p.name)?.durationUs ?? 0) / 1000) : null;
};

export interface TradeOffInput {
  records: IterationRecord[];
  cellOf: (r: IterationRecord) => string;
  comparisons: ComparisonRow[];
  cells: CellSummary[];
  primary: string;
  bootstrap: BootstrapSettings;
}

export function tradeOff(input: TradeOffInput): TradeOff {
  const { records, cellOf, primary } = input;
  const rows = input.comparisons.map((row): TradeOffRow => {
    const base = usable(records, row.baselineCell, cellOf);
    const cand = usable(records, row.candidateCell, cellOf);
    const figs = TRADE_OFF_METRICS.map((m): TradeOffFigure => {
      const b = base.map(m.value).filter((v): v is number => v !== null);
      const c = cand.map(m.value).filter((v): v is number => v !== null);
      const shift = b.length && c.length ? hodgesLehmann(b, c) : null;
      return {
        key: m.key,
        label: m.label,
        baseline: figures(b),
        candidate: figures(c),
        shift,
        ...(shift ? {} : { error: `${!b.length ? row.baseline : row.candidate}: ${m.missing}` }),
      };
    });
    const attributed = (rs: IterationRecord[]) =>
      rs
        .filter((r) => attributionOf(r)?.metric === primary)
        .map(phaseMs)
        .filter((v): v is number[] => v !== null);
    const decomposition = decomposeMeanShift(
      ATTRIBUTION_PHASES.map((p) => p.name),
      attributed(base),
      attributed(cand),
      input.bootstrap,
    );
    const derivedAttributions = [...base, ...cand].filter((r) => !r.extra?.downtimeAttribution && attributionOf(r)).length;
    return { vmSize: row.vmSize, queuePairs: row.queuePairs, figures: figs, decomposition, derivedAttributions };
  });
  return { rows, groups: cellGroups(input) };
}

/** Cells whose primary falls into two groups, with the phase that tells the groups apart. */
function cellGroups({ records, cellOf, cells, primary }: TradeOffInput): CellGroups[] {
  return cells.flatMap((cell) => {
    const ok = usable(records, cell.key, cellOf).filter((r) => r.metrics[primary] !== null && r.metrics[primary] !== undefined);
    const groups = twoGroups(
      ok.map((r) => r.metrics[primary]!),
      MIN_N_FOR_INTERVAL,
    );
    if (!groups) return [];
    const low = ok.filter((r) => r.metrics[primary]! < groups.split).map(phaseMs);
    const high = ok.filter((r) => r.metrics[primary]! >= groups.split).map(phaseMs);
    let explainedBy: CellGroups['explainedBy'] = null;
    if (low.every(Boolean) && high.every(Boolean)) {
      let best = -1;
      ATTRIBUTION_PHASES.forEach((p, j) => {
        const lows = low.map((v) => v![j]).sort((a, b) => a - b);
        const highs = high.map((v) => v![j]).sort((a, b) => a - b);
        const gap = Math.abs(median(highs) - median(lows));
        if (gap > best) {
          best = gap;
          explainedBy = { phase: p.name, low: [lows[0], lows.at(-1)!], high: [highs[0], highs.at(-1)!] };
        }
      });
    }
    return [{ cell: cell.label, cellKey: cell.key, variant: cell.variant, groups, explainedBy }];
  });
}
