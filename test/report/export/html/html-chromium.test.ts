/**
 * The HTML report in real headless Chromium: it opens from a file with no network, logs no errors,
 * and every chart has drawn marks. Hostile labels from the data stay text.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { renderHtml } from '../../../../harness/report/export/html/html.ts';
import { loadRun } from '../../../../harness/report/load.ts';
import { reportSettings } from '../../../../harness/report/model/settings.ts';
import { buildSummary } from '../../../../harness/report/model/summary.ts';
import { withBrowser } from '../../../helpers/chromium.ts';
import { requires } from '../../../helpers/requires.ts';

const test = requires('chromium');

const fixture = fileURLToPath(new URL('../../../fixtures/seed-run', import.meta.url));
const HOSTILE = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>&amp;"'`;

interface PageFacts {
  errors: string[];
  requests: string[];
  title: string;
  scripts: number;
  images: number;
  charts: { id: string; marks: number; drawn: number }[];
  text: string;
}

async function open(html: string): Promise<PageFacts> {
  const dir = await mkdtemp(join(tmpdir(), 'vdpa-bench-html-'));
  const file = join(dir, 'report.html');
  await writeFile(file, html);
  try {
    return await withBrowser(async (context) => {
      const page = await context.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('request', (r) => {
        if (!r.url().startsWith('file:')) requests.push(r.url());
      });
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      const facts = await page.evaluate(() => {
        const charts = [...document.querySelectorAll('figure.chart')].map((figure) => {
          // Vega draws each mark into a role-mark group; count its shapes and those with a visible box.
          const shapes = [...figure.querySelectorAll('svg g.role-mark > path, svg g.role-mark > line, svg g.role-mark > rect')] as SVGGraphicsElement[];
          const drawn = shapes.filter((s) => {
            const box = s.getBBox();
            return box.width > 0 || box.height > 0;
          });
          return { id: figure.id, marks: shapes.length, drawn: drawn.length };
        });
        return { title: document.title, scripts: document.scripts.length, images: document.images.length, charts, text: document.body.innerText };
      });
      return { errors, requests, ...facts };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('the fixture report: no console errors, no network, every chart drawn (distributions, run order, phases)', async (t) => {
  const run = await loadRun(fixture);
  const summary = buildSummary({ runs: [run], settings: reportSettings(run.manifest), records: run.records });
  const page = await open(await renderHtml(summary));
  t.deepEqual(page.errors, []);
  t.deepEqual(page.requests, []);
  t.deepEqual(
    page.charts.map((c) => c.id),
    ['forest', 'distribution-1', 'distribution-2', 'cost-total-time', 'run-order-1', 'run-order-2', 'phases-1', 'phases-2', 'phases-3', 'phases-4'],
  );
  for (const chart of page.charts) t.true(chart.drawn > 0, `${chart.id}: ${chart.drawn} of ${chart.marks} marks drawn`);
  // Every measured ok migration is a point in its distribution chart: 10 per variant and size.
  t.true(page.text.includes('- 39G VM:   4.72s -> 2.09s (-2.63s, ~56% improvement)'));
  t.is(page.scripts, 0);
});

test('hostile labels from the data are text, not markup; records without phases skip the timeline', async (t) => {
  const run = await loadRun(fixture);
  const records = run.records.map((r) => ({
    ...r,
    variant: r.variant === 'after' ? HOSTILE : r.variant,
    extra: undefined,
    reason: r.reason ? `${r.reason} ${HOSTILE}` : r.reason,
  }));
  const summary = buildSummary({ runs: [{ ...run, manifest: null, records }], settings: reportSettings(null), records });
  const html = await renderHtml(summary);
  t.false(/<script/i.test(html));
  t.false(/<img/i.test(html));
  const page = await open(html);
  t.deepEqual(page.errors, []);
  t.is(page.scripts, 0);
  t.is(page.images, 0);
  t.not(page.title, 'pwned');
  t.true(page.text.includes(`before -> ${HOSTILE}`), 'the label is shown as the text it is');
  t.false(page.text.includes('Phase timelines'), 'no empty phase section');
  t.deepEqual(
    page.charts.map((c) => c.id),
    ['forest', 'distribution-1', 'distribution-2', 'cost-total-time', 'run-order-1', 'run-order-2'],
  );
  for (const chart of page.charts) t.true(chart.drawn > 0, `${chart.id}: ${chart.drawn} of ${chart.marks} marks drawn`);
});
