/**
 * The trade-off block of the HTML report read from the rendered page in headless Chromium, on the
 * two-host precision run's real records: the QMP blackout shift beside the seed's claim, pinning by
 * placement, total time, the downtime shift by phase and the two groups with what tells them apart.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderHtml } from '../../../../harness/report/export/html/html.ts';
import { loadRun } from '../../../../harness/report/load.ts';
import { reportSettings } from '../../../../harness/report/model/settings.ts';
import { buildSummary } from '../../../../harness/report/model/summary.ts';
import { withBrowser } from '../../../helpers/chromium.ts';
import { requires } from '../../../helpers/requires.ts';

const test = requires('chromium');

test('the rendered page shows the trade-off table per size, the decomposition and both groups', async (t) => {
  const run = await loadRun('test/fixtures/two-hosts-precision');
  const summary = buildSummary({ runs: [run], settings: reportSettings(run.manifest), records: run.records });
  const dir = await mkdtemp(join(tmpdir(), 'vdpa-bench-trade-off-'));
  const file = join(dir, 'report.html');
  await writeFile(file, await renderHtml(summary));
  try {
    const page = await withBrowser(async (context) => {
      const p = await context.newPage();
      await p.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      return p.evaluate(() => {
        const section = document.getElementById('trade-off')!;
        const tables: string[][][] = [];
        const decompositions: string[] = [];
        const groups: string[] = [];
        for (let el = section.nextElementSibling; el && el.tagName !== 'H2'; el = el.nextElementSibling) {
          for (const table of el.matches('table') ? [el] : [...el.querySelectorAll('table')])
            tables.push([...table.querySelectorAll('tr')].map((tr) => [...tr.querySelectorAll('th, td')].map((c) => (c as HTMLElement).innerText.trim())));
          if (el.matches('p.decomposition')) decompositions.push((el as HTMLElement).innerText);
          if (el.matches('ul.groups')) groups.push(...[...el.querySelectorAll('li')].map((li) => li.innerText));
        }
        const visible = section.getBoundingClientRect().height > 0;
        return { heading: section.innerText, tables, decompositions, groups, visible };
      });
    });
    t.true(page.visible);
    t.is(page.heading, 'What it costs: before → after');
    t.is(page.tables.length, 3, 'one table per size');
    const at512 = page.tables[2];
    const row = (label: string) => at512.find((r) => r[0] === label)!;
    t.deepEqual(row('destination start-up → first QMP command answered'), [
      'destination start-up → first QMP command answered',
      '3.43 s (2.15 s–4.59 s, n = 8)',
      '17.42 s (15.31 s–20.24 s, n = 8)',
      '+13.79 s [12.77 s, 15.21 s] (the seed reports about 0.2 s on ConnectX-6 Dx)',
    ]);
    t.is(row('pinning inside the downtime window')[3], '-3.48 s [-6.23 s, -155.3 ms]');
    t.is(row('pinning before the freeze')[1], '0.0 ms (0.0 ms–0.0 ms, n = 8)');
    t.is(row('total migration time (QMP total-time)')[3], '-331.0 ms [-1.28 s, 45.0 ms]');
    t.regex(row('downtime (vdpa)')[1], /^two groups: 383\.8 ms \(n = 4\) and 6\.66 s \(n = 4\)$/);
    t.regex(page.decompositions[2], /^Downtime by phase: of the mean vdpa shift -3\.49 s \[[^\]]+\]: pinning -3\.37 s \[-5\.50 s, -1\.17 s\],/);
    t.is(page.groups.length, 2);
    t.regex(
      page.groups[1],
      /^before 512M 1qp: 4 at 324\.4 ms–1\.37 s .* what differs is pinning: 114\.4 ms–1\.10 s in the fast group, 5\.85 s–7\.40 s in the slow one$/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
