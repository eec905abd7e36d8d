/** The methods section, written from the data (pure): what was measured, how, on what. */
import { UNKNOWN, type Summary } from './types.ts';

const list = (items: string[]) => (items.length ? items.join('; ') : UNKNOWN);

export function methodsParagraphs(summary: Summary): string[] {
  const { totals, settings, setup } = summary;
  const runs = summary.runs
    .map(
      (r) =>
        `${r.runId} (profile ${r.profile}, ${r.state}, ${r.startedAt} → ${r.finishedAt}, ${r.tool}, design ${r.design}${r.seed !== null ? `, seed ${r.seed}` : ''}${r.manifest ? '' : ', no manifest'})`,
    )
    .join('; ');
  const designs = summary.runs.map(
    (r) =>
      `${summary.runs.length > 1 ? `${r.runId}: ` : ''}the profile asked for ${r.designDescription ?? `${r.design} (the manifest has no design sentence)`}; sampling ${r.sampling ?? UNKNOWN}`,
  );
  const stops = summary.cells.filter((c) => c.stop).map((c) => `${c.label}: ${c.stop!.text}`);
  const cellsText = `${summary.cells.length} cell${summary.cells.length === 1 ? '' : 's'} (variant × VM size × queue pairs)`;
  const primary = summary.metrics.find((m) => m.primary);
  const clock = setup.clock;
  const uncertainty =
    clock.maxUncertaintyUs === null
      ? 'unknown'
      : clock.maxUncertaintyUs === 0
        ? '0 µs (both ends on one machine, one clock)'
        : `at most ±${clock.maxUncertaintyUs} µs`;
  return [
    `Data: ${runs}. ${totals.migrations} migrations in ${cellsText}: ${totals.measured} measured (${totals.ok} ok, ${totals.failed} failed, ${totals.invalid} invalid) and ${totals.warmup} warm-up migrations, which are shown in the run-order chart but left out of every statistic. Failed and invalid migrations are counted in each cell's success rate, never dropped.`,
    `Design: ${summary.order.sentence} (${designs.join('. ')}.)${stops.length ? ` Why each cell stopped: ${stops.join('; ')}.` : ''}`,
    `Metric: downtime by "${summary.primary}"${primary?.description ? ` — ${primary.description}` : ''}. Other metrics are shown beside it: ${
      summary.metrics
        .filter((m) => !m.primary)
        .map((m) => m.label)
        .join(', ') || 'none'
    }. Agreement: each trace metric's systematic offset from the primary is shown once (mean difference, limits of agreement); the pair is judged once against ${settings.agreementToleranceMs} ms + ${settings.disagreementTolerancePct}% of the primary, and a migration is marked only when its difference lies outside both that tolerance and the pair's limits of agreement. QMP's downtime is measured on the source only and is checked as a lower bound of the trace span.`,
    `Statistics per cell over measured ok migrations: n, mean, median, sample standard deviation, min, max, and from n = ${settings.minNForInterval} on p95 (linear interpolation) and confidence intervals of the mean and the median (${settings.ciMethod}); below n = ${settings.minNForInterval} the report shows the points and the median only (n too small for an interval). Invalid migrations (guest damaged, a check failed) are left out of every statistic but drawn and listed at their measured value. Outliers: ${settings.outlierMethod}, within each group where a cell's values fall into two groups (against the cell's median the smaller group would all be "outliers"); they are flagged and kept.`,
    settings.baseline && settings.candidate
      ? `Before/after (${settings.baseline} → ${settings.candidate}, chosen by ${settings.pairSource}) per VM size and queue-pair count: difference of means and of medians, percent change of the mean, ${settings.shiftMethod}, and the ${settings.testMethod}. Verdict: improvement or regression only when p < ${settings.alpha} and the mean changed by more than the noise threshold of ${settings.noiseThresholdPct}%; otherwise no significant change. Settings from ${settings.settingsSource}.`
      : `No before/after comparison (${summary.variants.length} variant${summary.variants.length === 1 ? '' : 's'} in the data).`,
    `Clocks: ${list(clock.methods)}; offset uncertainty ${uncertainty}. Acceleration: ${setup.accel}${setup.accelReasons.length ? ` (${setup.accelReasons.join('; ')})` : ''}.`,
    `Set-up: ${setup.nic === 'no NIC' ? 'no NIC in the guest (no vDPA device, no queue pairs)' : `NIC ${setup.nic}, mode ${setup.mode}, queue pairs ${setup.queuePairs.map((q) => (q === null ? 'none' : q)).join(', ') || UNKNOWN}`}. Hosts: ${list(setup.hosts.map((h) => `${h.name} (${h.transport}; kernel ${h.kernel}; ${h.cpuModel}${h.cpus !== null ? `, ${h.cpus} CPUs` : ''}; NIC firmware ${h.nicFirmware})`))}. QEMU: ${list(Object.entries(setup.qemu).map(([variant, hosts]) => `${variant}: ${[...new Set(Object.values(hosts))].join(' / ') || UNKNOWN}`))}.`,
  ];
}
