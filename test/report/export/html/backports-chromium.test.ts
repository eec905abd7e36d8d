/**
 * The two-host backports re-run (docs/results/2026-12-07-softlab-two-hosts-backports: trixie's
 * QEMU 10.0.13 against trixie-backports' 11.1.3), reported by the real CLI from the bundle and read
 * from report.html in headless Chromium: the trade-off block per size (QMP non-responsiveness at
 * start-up, start-up time, pinning duration and where it fell, total time) with shifts and
 * intervals, the per-phase decomposition of the downtime shift, and two groups wherever a cell
 * splits (in this run none does: no cell shows one median as two groups, and none is missing).
 * The same figures in summary.txt, report.md and summary.json.
 */
import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Summary } from '../../../../harness/report/model/types.ts';
import { vdpaBench } from '../../../helpers/cli.ts';
import { withBrowser } from '../../../helpers/chromium.ts';
import { parseJson } from '../../../helpers/json.ts';
import { requires } from '../../../helpers/requires.ts';

const test = requires('chromium');

const RUN_ID = 'softlab-two-hosts-backports-20261207-160900-fc0a';
const BUNDLE = `docs/results/2026-12-07-softlab-two-hosts-backports/${RUN_ID}.tar.gz`;

interface Page {
  heading: string;
  sizes: string[];
  tables: string[][][];
  decompositions: string[];
  groups: string[];
  cells: Record<string, string>[];
  tradeOffVisible: boolean;
}

// no named functions inside: tsx wraps them in a __name helper that the page does not have
function readPage(): Page {
  const section = document.getElementById('trade-off')!;
  const page: Page = {
    heading: (section as HTMLElement).innerText.trim(),
    sizes: [],
    tables: [],
    decompositions: [],
    groups: [],
    cells: [],
    tradeOffVisible: section.getBoundingClientRect().height > 0,
  };
  for (let el = section.nextElementSibling; el && el.tagName !== 'H2'; el = el.nextElementSibling) {
    if (el.tagName === 'H3') page.sizes.push((el as HTMLElement).innerText.trim());
    if (el.matches('table'))
      page.tables.push([...el.querySelectorAll('tr')].map((tr) => [...tr.querySelectorAll('th, td')].map((c) => (c as HTMLElement).innerText.trim())));
    if (el.matches('p.decomposition')) page.decompositions.push((el as HTMLElement).innerText.trim());
    if (el.matches('ul.groups')) page.groups.push(...[...el.querySelectorAll('li')].map((li) => (li as HTMLElement).innerText.trim()));
  }
  const cells = document.getElementById('cells')!.nextElementSibling!;
  const header = [...cells.querySelectorAll('thead th')].map((th) => (th as HTMLElement).innerText.trim());
  page.cells = [...cells.querySelectorAll('tbody tr')].map((tr) =>
    Object.fromEntries([...tr.querySelectorAll('td')].map((td, i) => [header[i], (td as HTMLElement).innerText.trim()])),
  );
  return page;
}

test('the backports run in Chromium: the trade-off block with shifts and intervals, the downtime shift by phase, no cell split into groups', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vdpa-bench-backports-'));
  try {
    await execa('tar', ['xzf', BUNDLE, '-C', dir]);
    const out = join(dir, 'reports');
    const r = await vdpaBench(['report', join(dir, RUN_ID), '--out', out]);
    t.is(r.exitCode, 0, r.stderr);
    const page = await withBrowser(async (context) => {
      const p = await context.newPage();
      await p.goto(pathToFileURL(join(out, 'report.html')).href, { waitUntil: 'load' });
      return p.evaluate(readPage);
    });
    t.true(page.tradeOffVisible);
    t.is(page.heading, 'What it costs: before → after');
    t.deepEqual(page.sizes, ['128M, 1 qp', '256M, 1 qp', '512M, 1 qp']);
    const rows = (size: number) => new Map(page.tables[size].slice(1).map((row) => [row[0], row]));
    const at128 = rows(0);
    t.deepEqual(at128.get('destination start-up → first QMP command answered'), [
      'destination start-up → first QMP command answered',
      '3.22 s (2.35 s–6.22 s, n = 6)',
      '9.94 s (6.08 s–13.25 s, n = 8)',
      '+6.01 s [2.90 s, 9.60 s] (the seed reports about 0.2 s on ConnectX-6 Dx)',
    ]);
    t.is(at128.get('destination start-up → QMP greeting')![3], '+4.20 s [2.05 s, 8.06 s] (the seed reports about 0.2 s on ConnectX-6 Dx)');
    t.is(at128.get('destination start-up → migrate-incoming accepted')![3], '+5.87 s [-147.16 s, 17.29 s]');
    t.is(at128.get('source start-up → first QMP command answered')![3], '+3.89 s [2.62 s, 9.28 s]');
    t.is(at128.get('pinning (dma_map batches), total')![3], '+428.1 ms [54.2 ms, 853.0 ms]');
    t.is(at128.get('pinning before the freeze')![3], '+903.6 ms [719.6 ms, 1.50 s]');
    t.is(at128.get('pinning inside the downtime window')![3], '-653.3 ms [-743.0 ms, -448.5 ms]');
    t.is(at128.get('pinning after the window')![3], '+2.9 ms [1.5 ms, 6.9 ms]');
    t.is(at128.get('total migration time (QMP total-time)')![3], '+264.5 ms [-269.0 ms, 629.0 ms]');
    t.is(rows(1).get('destination start-up → first QMP command answered')![3], '+6.44 s [4.18 s, 8.02 s] (the seed reports about 0.2 s on ConnectX-6 Dx)');
    t.is(rows(2).get('destination start-up → first QMP command answered')![3], '+3.86 s [1.09 s, 5.37 s] (the seed reports about 0.2 s on ConnectX-6 Dx)');
    t.is(rows(2).get('downtime (vdpa)')![3], '-1.01 s [-1.69 s, -28.7 ms]');
    // every size: the same eleven figures, each shift with an interval
    for (let i = 0; i < 3; i++) {
      t.is(page.tables[i].length, 12);
      for (const row of page.tables[i].slice(1)) t.regex(row[3], /^[+-]\d[\d.]* m?s \[-?\d[\d.]* m?s, -?\d[\d.]* m?s\]/, row[0]);
    }
    t.is(
      page.decompositions[0],
      'Downtime by phase: of the mean vdpa shift -427.3 ms [-641.6 ms, -170.5 ms]: pinning -560.4 ms [-730.3 ms, -340.9 ms], destination load completed +70.2 ms [18.3 ms, 132.4 ms], iterable state saved +42.4 ms [5.1 ms, 90.4 ms], non-iterable state saved +13.3 ms [-23.8 ms, 53.2 ms], source stop +5.6 ms [-20.4 ms, 34.9 ms], device start (other) +2.4 ms [-4.7 ms, 9.7 ms], until DRIVER_OK -0.9 ms [-1.3 ms, -0.5 ms], vring enables +0.0 ms [-0.0 ms, 0.1 ms].',
    );
    t.regex(page.decompositions[1], /^Downtime by phase: of the mean vdpa shift -1\.76 s \[-2\.55 s, -994\.1 ms\]: pinning -1\.75 s \[-2\.48 s, -1\.04 s\],/);
    t.regex(page.decompositions[2], /^Downtime by phase: of the mean vdpa shift -1\.29 s \[-2\.52 s, -352\.2 ms\]: pinning -1\.26 s \[-2\.50 s, -297\.7 ms\],/);

    // two groups wherever a cell splits: the model finds none in this run, and the page shows none
    const summary = parseJson<Summary>(await readFile(join(out, 'summary.json'), 'utf8'));
    t.deepEqual(summary.tradeOff!.groups, []);
    t.deepEqual(page.groups, []);
    t.is(page.cells.length, 6);
    for (const cell of page.cells) t.notRegex(cell['median [95% CI]'], /two groups/, cell.cell);

    // the other formats carry the same figures
    const text = await readFile(join(out, 'summary.txt'), 'utf8');
    const markdown = await readFile(join(out, 'report.md'), 'utf8');
    for (const line of [
      'destination start-up → first QMP command answered  +6.01 s [2.90 s, 9.60 s]',
      'pinning inside the downtime window                 -653.3 ms [-743.0 ms, -448.5 ms]',
      'of the mean vdpa shift -427.3 ms [-641.6 ms, -170.5 ms]: pinning -560.4 ms [-730.3 ms, -340.9 ms]',
    ]) {
      t.true(text.includes(line), line);
      t.true(markdown.includes(line), line);
    }
    const first = summary.tradeOff!.rows[0].figures.find((f) => f.key === 'destinationFirstAnswerMs')!;
    t.deepEqual(first.shift!.ci, [2900.7, 9602]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a cell that splits is shown as two groups in the rendered cells table (the precision run: before 256M and 512M)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vdpa-bench-groups-'));
  try {
    const r = await vdpaBench(['report', 'test/fixtures/two-hosts-precision', '--out', dir, '--format', 'html']);
    t.is(r.exitCode, 0, r.stderr);
    const page = await withBrowser(async (context) => {
      const p = await context.newPage();
      await p.goto(pathToFileURL(join(dir, 'report.html')).href, { waitUntil: 'load' });
      return p.evaluate(readPage);
    });
    const cell = (label: string) => page.cells.find((c) => c.cell === label)!;
    t.is(cell('before 512M 1qp')['median [95% CI]'], 'two groups: 383.8 ms (n = 4, 324.4 ms–1.37 s) and 6.66 s (n = 4, 6.16 s–7.76 s), split at 3.77 s');
    t.is(cell('before 512M 1qp')['mean [95% CI]'], '— (two groups)');
    t.is(cell('before 256M 1qp')['outliers (seq)'], '24, 40');
    t.regex(cell('after 512M 1qp')['median [95% CI]'], /^217\.5 ms \[/);
    t.is(page.groups.length, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
