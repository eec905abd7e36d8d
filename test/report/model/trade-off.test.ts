/**
 * The trade-off block on the two-host precision run (real records of QEMU 10.0.13 and 11.1.3): what
 * the change costs beside what it gains, the downtime shift by phase and the cells that split, in
 * the text, Markdown and summary.json (the HTML in Chromium: trade-off-chromium.test.ts).
 */
import test from 'ava';
import { loadRun } from '../../../harness/report/load.ts';
import { renderMarkdown } from '../../../harness/report/export/markdown.ts';
import { reportSettings } from '../../../harness/report/model/settings.ts';
import { buildSummary } from '../../../harness/report/model/summary.ts';
import { renderText } from '../../../harness/report/export/text.ts';

const RUN = 'test/fixtures/two-hosts-precision';
const run = await loadRun(RUN);
const summary = buildSummary({ runs: [run], settings: reportSettings(run.manifest), records: run.records });

test('text: the block under the seed lines, the QMP blackout shift beside the seed claim, pinning by placement, total time', (t) => {
  const text = renderText(summary);
  const lines = text.split('\n');
  const block = lines.indexOf('What it costs (after − before: Hodges–Lehmann shift [interval]; median, range and n per variant):');
  t.true(block > lines.findIndex((l) => l.startsWith('Uncertainty of each line')), text);
  const at512 = lines.indexOf('  512M VM:', block);
  const get = (label: string) => lines.slice(at512).find((l) => l.trimStart().startsWith(label))!;
  t.regex(
    get('destination start-up → first QMP command answered'),
    /\+13\.79 s \[12\.77 s, 15\.21 s\] \(the seed reports about 0\.2 s on ConnectX-6 Dx\)\s+\(3\.43 s .* → 17\.42 s /,
  );
  t.regex(get('pinning inside the downtime window'), /-3\.48 s \[-6\.23 s, -155\.3 ms\]/);
  t.regex(get('pinning before the freeze'), /\+9\.59 s/);
  t.regex(get('total migration time (QMP total-time)'), /-331\.0 ms \[-1\.28 s, 45\.0 ms\]/);
  // old records did not time the greeting apart from the first answer: said, never a zero
  t.regex(get('not measured on either side:'), /destination start-up → QMP greeting \(not recorded/);
  // the downtime of a split cell is two groups, not one median
  t.regex(get('downtime (vdpa)'), /two groups: 383\.8 ms \(n = 4\) and 6\.66 s \(n = 4\)/);
});

test('text: the downtime shift decomposed by phase adds up, pinning first; the groups explained by pinning', (t) => {
  const text = renderText(summary);
  t.regex(text, /of the mean vdpa shift -3\.49 s \[[^\]]+\]: pinning -3\.37 s \[-5\.50 s, -1\.17 s\], destination load completed/);
  t.regex(
    text,
    /before 512M 1qp: 4 at 324\.4 ms–1\.37 s \(median 383\.8 ms\) and 4 at 6\.16 s–7\.76 s \(median 6\.66 s\), split at 3\.77 s; what differs is pinning: 114\.4 ms–1\.10 s in the fast group, 5\.85 s–7\.40 s in the slow one/,
  );
  // the seed-form line stays, marked, with the groups under it
  const lines = text.split('\n');
  const seed = lines.findIndex((l) => l.startsWith('- 512M VM:  3.71s -> 0.22s (-3.49s, ~94% improvement)'));
  t.true(lines[seed].endsWith('(two groups, under this line)'));
  t.is(lines[seed + 1], '    before: 4 at 324.4 ms–1.37 s (median 383.8 ms), 4 at 6.16 s–7.76 s (median 6.66 s), split at 3.77 s');
  for (const row of summary.tradeOff!.rows) {
    const d = row.decomposition!;
    t.true(Math.abs(d.parts.reduce((s, p) => s + p.shift, 0) - d.total.shift) < 1e-6, row.vmSize);
  }
});

test('Markdown and summary.json carry the same block', (t) => {
  const md = renderMarkdown(summary);
  t.regex(md, /## What it costs: before → after/);
  t.regex(
    md,
    /\| destination start-up → first QMP command answered \| 3\.43 s \(2\.15 s–4\.59 s, n = 8\) \| 17\.42 s \(15\.31 s–20\.24 s, n = 8\) \| \+13\.79 s \[12\.77 s, 15\.21 s\] \(the seed reports about 0\.2 s on ConnectX-6 Dx\) \|/,
  );
  t.regex(md, /Downtime by phase: of the mean vdpa shift -3\.49 s/);
  t.regex(md, /### Cells with two groups/);
  const json = JSON.parse(JSON.stringify(summary)) as typeof summary;
  const row = json.tradeOff!.rows.find((r) => r.vmSize === '512M')!;
  const qmp = row.figures.find((f) => f.key === 'destinationFirstAnswerMs')!;
  t.deepEqual([qmp.baseline!.median, qmp.candidate!.median, qmp.baseline!.n], [3428.5, 17415.5, 8]);
  t.true(qmp.shift!.ci[0] > 12_000);
  t.is(row.decomposition!.parts.find((p) => p.part === 'pinning')!.shift < -3000, true);
  t.deepEqual(
    json.tradeOff!.groups.map((g) => [g.cell, g.groups.low.n, g.groups.high.n, g.explainedBy?.phase]),
    [
      ['before 256M 1qp', 3, 5, 'pinning'],
      ['before 512M 1qp', 4, 4, 'pinning'],
    ],
  );
});
