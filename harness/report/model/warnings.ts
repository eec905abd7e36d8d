/**
 * Step of the report model: the warnings that travel with the number (pure), each with the
 * evidence a reader can check. They go at the top of every report and into summary.json.
 */
import { twoGroups as splitGroups } from '../../stats/groups.ts';
import { mean, median } from '../../stats/describe.ts';
import { ms } from './numbers.ts';
import {
  MIN_N_FOR_INTERVAL,
  QMP_METRIC,
  type CellSummary,
  type ComparisonRow,
  type MigrationRow,
  type ReportWarning,
  type RunData,
  type Summary,
} from './types.ts';

const firstLine = (text: string | null) =>
  (text ?? 'no reason recorded')
    .split('\n')
    .map((l) => l.trim())
    .find(Boolean) ?? 'no reason recorded';
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
/** Clock uncertainty counts as large when it is more than this share of a cell's median downtime. */
const CLOCK_SHARE = 0.1;
/** Downtime counts as far over the limit above this multiple of the configured downtime-limit. */
const OVER_LIMIT_FACTOR = 2;

export function runWarnings(runs: RunData[], settingsWarnings: string[]): ReportWarning[] {
  const out: ReportWarning[] = settingsWarnings.map((message) => ({ kind: 'data', message, evidence: [] }));
  for (const run of runs) {
    if (run.tornLines?.length)
      out.push({
        kind: 'data',
        message: `${run.runId}: ${run.tornLines.length} torn line(s) in iterations.ndjson left out`,
        evidence: [`lines ${run.tornLines.join(', ')}`],
      });
    if (run.readWarnings?.length)
      out.push({ kind: 'data', message: `${run.runId}: read leniently: data this version does not know is kept, not used`, evidence: run.readWarnings });
    out.push(...untraceableEventWarnings(run));
    const state = run.manifest?.state;
    if (state && state !== 'completed')
      out.push({
        kind: 'data',
        message: `${run.runId}: run state is "${state}": the data may be partial`,
        evidence: run.manifest?.stateReason ? [run.manifest.stateReason] : [],
      });
  }
  return out;
}

/**
 * Trace events a variant's QEMU does not have, where that cost a metric. A missing event that is
 * only one of a rule's alternatives (vhost_vdpa_set_vring_ready of QEMU 8.1-8.2 beside the newer
 * enable_one) costs nothing and is no warning: the manifest still lists it.
 */
function costByUntraceable(reason: string, untraceable: string[]): boolean {
  // the rules name every alternative they looked for ("missing event on the destination: a or b"):
  // the QEMU's tracing is to blame only when it could trace none of them
  const listed = /missing event on the \w+: (.+)$/.exec(firstLine(reason))?.[1].split(' or ');
  return listed ? listed.every((event) => untraceable.includes(event)) : untraceable.some((event) => reason.includes(event));
}

function untraceableEventWarnings(run: RunData): ReportWarning[] {
  return (run.manifest?.variants ?? []).flatMap((v) => {
    const missing = v.traceEventsMissing ?? [];
    if (!missing.length) return [];
    const lost = new Map<string, { n: number; reason: string }>();
    const records = run.records.filter((r) => r.variant === v.name);
    for (const r of records)
      for (const [metric, reason] of Object.entries(r.metricErrors ?? {})) {
        if (!costByUntraceable(reason, missing)) continue;
        lost.set(metric, { n: (lost.get(metric)?.n ?? 0) + 1, reason: lost.get(metric)?.reason ?? reason });
      }
    if (!lost.size) return [];
    return [
      {
        kind: 'data' as const,
        message: `${v.name}: this QEMU cannot trace ${missing.join(', ')}, so ${[...lost.keys()].join(', ')} could not be computed for it`,
        evidence: [...lost].map(([metric, { n, reason }]) => `${metric}: ${n} of ${records.length} migrations: ${firstLine(reason)}`),
      },
    ];
  });
}

/** A guest found damaged after the migration (console, memory checksums): the lab in a box's integrity check. */
export const isDamagedGuest = (r: MigrationRow) => r.status === 'invalid' && /guest failed its checks/.test(r.reason ?? '');

function notOkWarnings(rows: MigrationRow[], cells: CellSummary[], primary: string): ReportWarning[] {
  const groups: { kind: ReportWarning['kind']; hit: MigrationRow[]; what: string; shown: string }[] = [
    {
      kind: 'damaged-guest',
      hit: rows.filter(isDamagedGuest),
      what: 'left the guest damaged (invalid)',
      shown: 'They are left out of the statistics and drawn at their measured value.',
    },
    {
      kind: 'failed',
      hit: rows.filter((r) => r.status === 'invalid' && !isDamagedGuest(r)),
      what: 'were invalid (no trustworthy measurement)',
      shown: 'They are left out of the statistics; those with a value are drawn at it.',
    },
    { kind: 'failed', hit: rows.filter((r) => r.status === 'failed'), what: 'failed', shown: 'They have no downtime and are left out of the statistics.' },
  ];
  return groups
    .filter((g) => g.hit.length)
    .map(({ kind, hit, what, shown }) => {
      const perCell = cells.map((c) => ({ c, n: hit.filter((r) => r.cell === c.key).length })).filter((x) => x.n > 0);
      const warmups = hit.filter((r) => r.warmup).length;
      return {
        kind,
        message: `${hit.length} of ${rows.length} migrations ${what}${warmups ? ` (${warmups} of them warm-ups)` : ''}: ${perCell.map((x) => `${x.c.label} ${x.n}`).join(', ')}. ${shown}`,
        evidence: hit.map(
          (r) =>
            `migration ${r.seq} (${r.variant} ${r.vmSize}${r.warmup ? ', warm-up' : ''}${r.values[primary] !== null ? `, measured ${ms(r.values[primary])}` : ''}): ${firstLine(r.reason)}`,
        ),
      };
    });
}

/**
 * Invalid migrations whose values all sit on one side of their cell's ok median (at least two of
 * them): dropping them moves the cell's statistics, a possible selection bias worth a sentence.
 */
function selectionBias(rows: MigrationRow[], cells: CellSummary[], primary: string): ReportWarning[] {
  const evidence: string[] = [];
  for (const c of cells) {
    const inCell = rows.filter((r) => r.cell === c.key && !r.warmup && r.values[primary] !== null);
    const ok = inCell.filter((r) => r.status === 'ok').map((r) => r.values[primary]!);
    const invalid = inCell.filter((r) => r.status === 'invalid').map((r) => r.values[primary]!);
    if (!ok.length || invalid.length < 2) continue;
    const mid = median(ok);
    const side = invalid.every((v) => v < mid) ? 'below' : invalid.every((v) => v > mid) ? 'above' : null;
    if (!side) continue;
    evidence.push(
      `${c.label}: all ${invalid.length} invalid ${side} the ok median ${ms(mid)} (${invalid.map((v) => ms(v)).join(', ')}); mean with them ${ms(mean([...ok, ...invalid]))}, without ${ms(mean(ok))}`,
    );
  }
  return evidence.length
    ? [
        {
          kind: 'selection-bias',
          message: `Invalid migrations differ systematically from the ok ones in ${plural(evidence.length, 'cell')}: leaving them out moves those cells' statistics (possible selection bias; what breaks the guest may also shape its downtime).`,
          evidence,
        },
      ]
    : [];
}

/** Two separate groups in a cell's values (harness/stats/groups.ts), from MIN_N_FOR_INTERVAL values on. */
export function twoGroups(values: number[]): { low: number[]; high: number[] } | null {
  const groups = splitGroups(values, MIN_N_FOR_INTERVAL);
  return groups ? { low: groups.low.values, high: groups.high.values } : null;
}

function bimodalCells(rows: MigrationRow[], cells: CellSummary[], primary: string): ReportWarning[] {
  const evidence = cells.flatMap((c) => {
    const values = rows.filter((r) => r.cell === c.key && !r.warmup && r.status === 'ok' && r.values[primary] !== null).map((r) => r.values[primary]!);
    const groups = twoGroups(values);
    if (!groups) return [];
    const range = (g: number[]) => (g.length > 1 ? `${ms(g[0])}–${ms(g.at(-1)!)}` : ms(g[0]));
    return [`${c.label}: ${groups.low.length} of ${values.length} at ${range(groups.low)}, ${groups.high.length} at ${range(groups.high)}`];
  });
  return evidence.length
    ? [
        {
          kind: 'bimodal',
          message: `The ${primary} downtime falls into two separate groups in ${plural(evidence.length, 'cell')}: a mean (the seed-form line) describes neither group, and something besides the variant decided which group a migration fell into. Read each group (n, median, range and the phase that tells them apart, under the seed-form lines and in the trade-off block), not one median or mean.`,
          evidence,
        },
      ]
    : [];
}

function smallCells(cells: CellSummary[], comparisons: ComparisonRow[], primary: string): ReportWarning[] {
  const small = cells.filter((c) => (c.metrics[primary]?.n ?? 0) < MIN_N_FOR_INTERVAL);
  if (!small.length) return [];
  const minimumPs = comparisons.flatMap((row) => {
    const c = row.metrics[primary];
    return c && !('error' in c) && c.mannWhitney.minimumP !== null
      ? [`${row.vmSize}: n = ${c.nBaseline}/${c.nCandidate}, smallest attainable p ${c.mannWhitney.minimumP.toPrecision(2)}`]
      : [];
  });
  return [
    {
      kind: 'small-n',
      message: `${plural(small.length, 'cell')} of ${cells.length} ${small.length === 1 ? 'has' : 'have'} fewer than ${MIN_N_FOR_INTERVAL} ok measured migrations: points and medians only, no confidence interval, no p95, no box (n too small for an interval).`,
      evidence: [...small.map((c) => `${c.label}: n = ${c.metrics[primary]?.n ?? 0}`), ...minimumPs],
    },
  ];
}

function overLimit(rows: MigrationRow[], cells: CellSummary[], primary: string): ReportWarning[] {
  const evidence: string[] = [];
  for (const c of cells) {
    if (c.downtimeLimitMs === null) continue;
    const over = rows.filter((r) => r.cell === c.key && !r.warmup && r.status === 'ok' && (r.values[primary] ?? 0) > OVER_LIMIT_FACTOR * c.downtimeLimitMs!);
    if (!over.length) continue;
    const stopped = over.map((r) => r.cost.downtimeBytes).filter((b): b is number => b !== null);
    evidence.push(
      `${c.label}: ${over.length} of ${c.counts.ok} above ${OVER_LIMIT_FACTOR}× its ${c.downtimeLimitMs} ms limit (up to ${ms(Math.max(...over.map((r) => r.values[primary]!)))}${stopped.length ? `, ${(Math.max(...stopped) / 1e6).toFixed(1)} MB sent while stopped at most` : ''})`,
    );
  }
  return evidence.length
    ? [
        {
          kind: 'over-limit',
          message: `Downtime far over the configured downtime-limit (more than ${OVER_LIMIT_FACTOR}×): QEMU's limit bounds its estimate of the RAM left to send, not the switchover; the rest is device state, destination load and start.`,
          evidence,
        },
      ]
    : [];
}

function clockWarning(summary: Pick<Summary, 'cells' | 'primary' | 'setup'>): ReportWarning[] {
  const u = summary.setup.clock.maxUncertaintyUs;
  if (u === null || u === 0) return [];
  const affected = summary.cells.filter((c) => c.metrics[summary.primary] && u / 1000 > CLOCK_SHARE * c.metrics[summary.primary]!.median);
  return affected.length
    ? [
        {
          kind: 'clock',
          message: `Clock offset uncertainty (±${(u / 1000).toFixed(2)} ms) is more than ${CLOCK_SHARE * 100}% of the median downtime of ${plural(affected.length, 'cell')}.`,
          evidence: affected.map((c) => `${c.label}: median ${ms(c.metrics[summary.primary]!.median)}`),
        },
      ]
    : [];
}

/** QMP's downtime is measured on the source only: it should not exceed the trace span plus the clock uncertainty. */
function qmpAboveSpan(rows: MigrationRow[], primary: string): ReportWarning[] {
  const slackMs = 1;
  const above = rows.filter(
    (r) =>
      r.status === 'ok' &&
      r.values[QMP_METRIC] !== null &&
      r.values[QMP_METRIC] !== undefined &&
      r.values[primary] !== null &&
      r.values[QMP_METRIC]! > r.values[primary]! + (r.clockUncertaintyUs ?? 0) / 1000 + slackMs,
  );
  return above.length
    ? [
        {
          kind: 'qmp-above-span',
          message: `QMP's source-side downtime exceeds the trace span (${primary}) plus the clock uncertainty in ${plural(above.length, 'migration')}: one of the two measurements is wrong there.`,
          evidence: above.map((r) => `migration ${r.seq}: QMP ${ms(r.values[QMP_METRIC])} > ${primary} ${ms(r.values[primary])}`),
        },
      ]
    : [];
}

function designWarning(order: Summary['order']): ReportWarning[] {
  const bad = order.groups.filter((g) => Object.keys(g.meanPosition).length > 1 && (!g.interleaved || !g.balanced));
  return bad.length
    ? [
        {
          kind: 'design',
          message: `Variants were not counterbalanced in run order for ${bad.map((g) => g.vmSize).join(', ')}: drift over the run is not controlled there.`,
          evidence: bad.map((g) => `${g.vmSize}: ${g.blocks.map((b) => `${b.variant}×${b.measured}`).join(' → ')}`),
        },
      ]
    : [];
}

export function dataWarnings(summary: Pick<Summary, 'cells' | 'primary' | 'setup' | 'migrations' | 'comparisons' | 'order'>): ReportWarning[] {
  const { migrations: rows, cells, primary } = summary;
  const tcg = summary.setup.accel.split(', ').includes('tcg');
  return [
    ...notOkWarnings(rows, cells, primary),
    ...selectionBias(rows, cells, primary),
    ...bimodalCells(rows, cells, primary),
    ...(tcg
      ? [
          {
            kind: 'emulated-cpu' as const,
            message: 'The guest ran under TCG (emulated CPU): downtimes include emulation overhead and are not those of KVM on real hardware.',
            evidence: [`accelerator: ${summary.setup.accel}`, ...summary.setup.accelReasons.map((r) => `why: ${r}`)],
          },
        ]
      : []),
    ...summary.setup.accelFallbacks.map((f) => ({
      kind: 'accel-fallback' as const,
      message: `QEMU failed to start with KVM at the first boot of run ${f.runId}, so that run went on under TCG (accel: auto).`,
      evidence: [`${f.host}: ${f.reason}`],
    })),
    ...clockWarning(summary),
    ...smallCells(cells, summary.comparisons, primary),
    ...overLimit(rows, cells, primary),
    ...qmpAboveSpan(rows, primary),
    ...designWarning(summary.order),
  ];
}
