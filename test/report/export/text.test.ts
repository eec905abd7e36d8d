import test from 'ava';
import { fileURLToPath } from 'node:url';
import { loadRun } from '../../../harness/report/load.ts';
import { reportSettings } from '../../../harness/report/model/settings.ts';
import { buildSummary } from '../../../harness/report/model/summary.ts';
import { renderText } from '../../../harness/report/export/text.ts';

const fixture = fileURLToPath(new URL('../../fixtures/seed-run', import.meta.url));

test('text: swapping baseline and candidate reads as a regression, in the same form', async (t) => {
  const run = await loadRun(fixture);
  const settings = { ...reportSettings(run.manifest), baseline: 'after', candidate: 'before' };
  const text = renderText(buildSummary({ runs: [run], settings, records: run.records }));
  t.true(text.includes('- 39G VM:   2.09s -> 4.72s (+2.63s, ~126% regression)\n'), text);
  t.true(text.includes('- 128G VM:  5.83s -> 14.72s (+8.89s, ~152% regression)\n'), text);
});

test('text: without a profile the first two variants in order of appearance are compared; one variant gives plain means', async (t) => {
  const run = await loadRun(fixture);
  const defaults = buildSummary({ runs: [{ ...run, manifest: null }], settings: reportSettings(null), records: run.records });
  t.is(defaults.settings.baseline, 'before');
  t.is(defaults.settings.pairSource, 'default: the first two variants in the order they appear in the data');
  const before = run.records.filter((r) => r.variant === 'before');
  const single = renderText(buildSummary({ runs: [{ ...run, records: before }], settings: reportSettings(run.manifest), records: before }));
  t.true(single.includes('- 39G VM:   4.72s (n = 10, median 4.72s)\n'), single);
  t.true(single.includes('(1 of 21 measured migrations failed or were invalid: 1 failed, 0 invalid; 20 ok)'), single);
});

test('text: a profile naming a variant the run lacks says so instead of comparing something else', async (t) => {
  const run = await loadRun(fixture);
  const settings = { ...reportSettings(run.manifest), candidate: 'nightly' };
  const summary = buildSummary({ runs: [run], settings, records: run.records });
  t.deepEqual(summary.comparisons, []);
  t.true(summary.warnings.some((w) => w.message.includes('"nightly" has no migrations in this run')));
});

test('text: a vDPA lab manifest without a set-up sentence takes the NIC model from its host facts', async (t) => {
  const run = await loadRun(fixture);
  const manifest = structuredClone(run.manifest!);
  delete manifest.setup;
  manifest.hosts = manifest.hosts!.map(({ nicFirmware: _, ...h }) => h);
  const nic = { model: 'Mellanox Technologies MT2892 Family [ConnectX-6 Dx]', firmware: '22.31.1014 (MT_0000000359)' };
  const vdpaHost = { iommu: { units: [], cmdline: [] }, hugepages: {}, devices: {}, nic };
  manifest.lab = { builds: [], provisioning: {}, vdpaHosts: { 'lab-a': vdpaHost }, vhostVdpaDevices: {}, qemu: {}, qemuRoots: [], ledger: [] };
  const summary = buildSummary({ runs: [{ ...run, manifest }], settings: reportSettings(manifest), records: run.records });
  t.regex(renderText(summary), /^Using Mellanox Technologies MT2892 Family \[ConnectX-6 Dx\] NICs in vhost-vDPA mode with 8 queue-pairs, /);
  t.deepEqual(
    summary.setup.hosts.map((h) => h.nicFirmware),
    ['22.31.1014 (MT_0000000359)', 'unknown'],
  );
});

test('text: a tap NIC (the lab in a box) is named with its datapath, not as vDPA queue pairs', async (t) => {
  const run = await loadRun(fixture);
  const manifest = structuredClone(run.manifest!);
  manifest.setup = { nic: 'virtio-net-pci', mode: 'on a tap, QEMU userspace datapath', queuePairs: [null] };
  const records = run.records.map((r) => ({ ...r, queuePairs: null }));
  const summary = buildSummary({ runs: [{ ...run, manifest, records }], settings: reportSettings(manifest), records });
  t.regex(renderText(summary), /^Using a virtio-net-pci NIC \(on a tap, QEMU userspace datapath\), back-to-back live migrations, /);
});

test('methods and cells say how the run was designed and why each cell stopped', async (t) => {
  const { renderMarkdown } = await import('../../../harness/report/export/markdown.ts');
  const run = await loadRun(fixture);
  const manifest = structuredClone(run.manifest!);
  manifest.design = 'interleaved ABBA: variants alternate before-after, then reversed, round by round (removes linear drift); one block (guest boot) per cell';
  manifest.sampling = {
    mode: 'adaptive',
    target: { medianCiHalfWidthPct: 5, minIterations: 6, maxIterations: 30 },
    cells: [
      { cell: 'before 39G 8qp', measured: 9, usable: 9, reason: 'precision-reached', medianMs: 4700, ciHalfWidthPct: 1.2 },
      { cell: 'after 39G 8qp', measured: 30, usable: 30, reason: 'max-iterations', medianMs: 200, ciHalfWidthPct: 7.5 },
    ],
  };
  manifest.abandonedCells = [
    { cell: { variant: 'after', vmSize: '128G', queuePairs: 8 }, reason: '3 migrations in a row not ok', afterSeq: 40, at: '2025-07-21T19:00:00Z' },
  ];
  const summary = buildSummary({ runs: [{ ...run, manifest }], settings: reportSettings(manifest), records: run.records });
  const stop = (label: string) => summary.cells.find((c) => c.label === label)?.stop;
  t.is(stop('before 39G 8qp')?.reason, 'precision-reached');
  t.regex(stop('before 39G 8qp')!.text, /precision reached: median 95% CI ±1.2% < 5% after 9 measured/);
  t.regex(stop('after 39G 8qp')!.text, /maximum count reached before the precision: median 95% CI ±7.5% \(target 5%\)/);
  t.is(stop('after 128G 8qp')?.reason, 'abandoned');
  t.is(stop('before 128G 8qp'), null, 'a cell the manifest does not mention has no stop');
  const md = renderMarkdown(summary);
  // What ran (one contiguous block per cell) beats what the profile wished for.
  t.regex(
    md,
    /Design: As run \(from the seq and block of each record.*39G 8qp: blocks before×11 → after×10; mean run-order position before 7, after 18.5; NOT interleaved/,
  );
  t.regex(
    md,
    /the profile asked for interleaved ABBA: .*; sampling adaptive: a cell stops when its median's 95% CI half-width is below 5% of the median \(at least 6, at most 30/,
  );
  t.regex(md, /Why each cell stopped: .*after 128G 8qp: abandoned after migration 40: 3 migrations in a row not ok/);
  t.regex(md, /\| cell \| success .* \| stopped \|/);
});

test("text, Markdown and HTML open with the profile's compare.purpose; a run without both variants of the pair leaves it out", async (t) => {
  const { renderMarkdown } = await import('../../../harness/report/export/markdown.ts');
  const { renderHtml } = await import('../../../harness/report/export/html/html.ts');
  const run = await loadRun(fixture);
  const manifest = structuredClone(run.manifest!);
  const purpose = 'A demonstration: the series against QEMU without it, "before" & after.';
  manifest.profile!.text = manifest.profile!.text!.replace('  noiseThresholdPct: 5\n', `  noiseThresholdPct: 5\n  purpose: '${purpose.replace(/'/g, "''")}'\n`);
  const settings = reportSettings(manifest);
  t.is(settings.purpose, purpose);
  t.is(settings.source, 'profile');
  const summary = buildSummary({ runs: [{ ...run, manifest }], settings, records: run.records });
  t.is(summary.purpose, purpose);
  const text = renderText(summary);
  t.is(text.split('\n')[0], purpose);
  t.regex(text.split('\n')[1], /^Using /);
  t.true(renderMarkdown(summary).startsWith(`# ${summary.title}\n\n\`\`\`\n${purpose}\nUsing `));
  t.true(
    (await renderHtml(summary)).includes(`<pre class="summary">A demonstration: the series against QEMU without it, &quot;before&quot; &amp; after.\nUsing `),
  );
  // one variant only: the sentence is about a comparison this report does not make
  const before = run.records.filter((r) => r.variant === 'before');
  const single = buildSummary({ runs: [{ ...run, manifest, records: before }], settings, records: before });
  t.is(single.purpose, undefined);
  t.regex(renderText(single), /^Using /);
  // without the key, the report is what it was
  t.is(buildSummary({ runs: [run], settings: reportSettings(run.manifest), records: run.records }).purpose, undefined);
});
