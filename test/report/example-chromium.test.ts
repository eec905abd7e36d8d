/**
 * Real runs of the lab in a box, reported and read back from the page headless Chromium renders at
 * 1400 px: what a reviewer who publishes the number must see is there.
 * - docs/examples/lab-in-a-box (the README's first command: stop-and-copy against 300 ms precopy,
 *   QEMU 10.0 from trixie, traces and full probe logs): variant table, cost
 *   charts, forest plot, probe timelines, methods sentence matching iterations.ndjson.
 * - test/fixtures/lab-in-a-box-damaged (an earlier run on QEMU 7.2 that left 10 guests damaged):
 *   the warnings block naming each damaged guest with evidence, each invalid migration at its value.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { renderHtml } from '../../harness/report/html.ts';
import { loadRun } from '../../harness/report/load.ts';
import { reportSettings } from '../../harness/report/settings.ts';
import { buildSummary } from '../../harness/report/summary.ts';
import { withBrowser } from '../helpers/chromium.ts';
import { requires } from '../helpers/requires.ts';
import { parseJson } from '../helpers/json.ts';

const test = requires('chromium');

const example = fileURLToPath(new URL('../../docs/examples/lab-in-a-box', import.meta.url));
const damagedRun = fileURLToPath(new URL('../fixtures/lab-in-a-box-damaged', import.meta.url));

interface Line {
  seq: number;
  block: number;
  variant: string;
  vmSize: string;
  warmup: boolean;
  status: string;
  reason?: string;
  metrics: Record<string, number | null>;
}

interface PageFacts {
  warnings: string;
  /** With the folded evidence. */
  warningsAll: string;
  variants: string[];
  methods: string;
  runOrder: { label: string; stroke: string | null; d: string }[];
  charts: { id: string; role: string | null; title: string; points: number; rules: number; caption: string }[];
  tablesWithoutCaption: number;
  scrollWidth: number;
  clientWidth: number;
}

/** The blocks as they ran, per VM size, computed here from the raw lines (not by the report's code). */
function blocksFromLines(lines: Line[]): Map<string, string> {
  const out = new Map<string, string[]>();
  let last: Line | undefined;
  const counts: { size: string; variant: string; n: number }[] = [];
  for (const l of lines) {
    if (!last || last.block !== l.block) counts.push({ size: l.vmSize, variant: l.variant, n: 0 });
    if (!l.warmup) counts.at(-1)!.n++;
    last = l;
  }
  for (const c of counts) out.set(c.size, [...(out.get(c.size) ?? []), `${c.variant}×${c.n}`]);
  return new Map([...out].map(([size, blocks]) => [size, blocks.join(' → ')]));
}

/** The report of a run dir as headless Chromium lays it out at 1400 px, with the raw lines it came from. */
async function renderedPage(runDir: string) {
  const lines = (await readFile(join(runDir, 'iterations.ndjson'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
  const run = await loadRun(runDir);
  const summary = buildSummary({ runs: [run], settings: reportSettings(run.manifest), records: run.records });
  const dir = await mkdtemp(join(tmpdir(), 'vdpa-bench-example-'));
  const file = join(dir, 'report.html');
  await writeFile(file, await renderHtml(summary));
  try {
    const page = await withBrowser(async (context) => {
      const p = await context.newPage();
      await p.setViewportSize({ width: 1400, height: 1000 });
      await p.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      // A string, not a function: tsx's name helpers do not exist in the page.
      return p.evaluate(`(() => {
        const text = (selector) => (document.querySelector(selector) || {}).innerText || '';
        const allText = (selector) => (document.querySelector(selector) || {}).textContent || '';
        const symbols = (figure) =>
          [...document.querySelectorAll(\`#\${figure} svg path[aria-roledescription="point"]\`)].map((p) => ({ label: p.getAttribute('aria-label') ?? '', stroke: p.getAttribute('stroke'), d: p.getAttribute('d') ?? '' }));
        return {
          warnings: text('#warnings'),
          warningsAll: allText('#warnings'),
          variants: [...document.querySelectorAll('#variants + table tbody tr')].map((tr) => tr.innerText),
          methods: text('#methods + .methods'),
          runOrder: [...document.querySelectorAll('figure[id^="run-order-"]')].flatMap((f) => symbols(f.id)),
          charts: [...document.querySelectorAll('figure.chart')].map((f) => ({ id: f.id, role: f.querySelector('svg')?.getAttribute('role'), title: f.querySelector('svg > title')?.textContent ?? '', points: f.querySelectorAll('svg path[aria-roledescription="point"], svg path[aria-roledescription="line mark"]').length, rules: f.querySelectorAll('svg line, svg path[aria-roledescription="rule"]').length, caption: f.querySelector('figcaption')?.textContent ?? '' })),
          tablesWithoutCaption: [...document.querySelectorAll('table')].filter((tb) => !tb.querySelector('caption')?.textContent?.trim()).length,
          scrollWidth: document.documentElement.scrollWidth,
          clientWidth: document.documentElement.clientWidth,
        };
      })()`) as Promise<PageFacts>;
    });

    return { lines, summary, page };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a run with damaged guests in Chromium: the warnings name each damaged guest with its evidence; each invalid migration is drawn at its measured value', async (t) => {
  const { lines, page } = await renderedPage(damagedRun);
  // Warnings: damaged guests named, each with its migration, measured value and console evidence.
  const invalid = lines.filter((l) => l.status === 'invalid');
  t.true(invalid.length > 0, 'the example run has damaged guests');
  t.regex(page.warnings, new RegExp(`${invalid.length} of ${lines.length} migrations left the guest damaged`));
  for (const l of invalid) t.true(page.warningsAll.includes(`migration ${l.seq} (${l.variant} ${l.vmSize}`), `warning evidence for migration ${l.seq}`);
  t.true(page.warnings.includes(`migration ${invalid[0].seq} (`), 'the first evidence lines are visible without a click');
  t.regex(page.warnings, /destination console: .*(BUG|WARNING)/);
  t.regex(page.warnings, /TCG/);

  // Every invalid migration with a value is a black X at that value in its run-order chart (never at 0).
  for (const l of invalid.filter((x) => x.metrics.runstate !== null)) {
    const mark = page.runOrder.find((p) => p.label.startsWith(`migration (run order, seq): ${l.seq};`));
    t.truthy(mark, `migration ${l.seq} is drawn`);
    t.is(mark?.stroke, '#000000');
    t.true(mark!.d.startsWith('M-'), 'an X path');
    const drawn = Number(/downtime[^:]*: ([\d.]+)/.exec(mark!.label)?.[1]);
    t.true(Math.abs(drawn - l.metrics.runstate!) < 0.01, `migration ${l.seq} drawn at ${drawn}, measured ${l.metrics.runstate}`);
  }
});

test('the example run in Chromium: variant table, cost charts, forest plot, probe timelines around the switchover, methods as run', async (t) => {
  const { lines, summary, page } = await renderedPage(example);
  // every migration of the run, warm-ups included, is a point in the run-order charts
  t.is(page.runOrder.length, lines.length);
  // The variant table shows what differs (the downtime limit, read here from the manifest) and
  // nothing shared (the QEMU binary, the bandwidth cap).
  const manifest = parseJson<{ variants: { parameters: Record<string, number> }[] }>(await readFile(join(example, 'manifest.json'), 'utf8'));
  const limits = manifest.variants.map((v) => v.parameters['downtime-limit']).join('\\s+');
  t.true(
    page.variants.some((r) => new RegExp(`parameters\\.downtime-limit\\s+${limits}`).test(r)),
    page.variants.join('\n'),
  );
  t.false(page.variants.some((r) => r.startsWith('QEMU binary')));
  t.false(page.variants.some((r) => r.startsWith('parameters.max-bandwidth')));

  // Cost charts and the forest plot are drawn, with points; every chart is an image with a title.
  const chart = (id: string) => page.charts.find((c) => c.id === id);
  t.true((chart('cost-total-time')?.points ?? 0) >= lines.filter((l) => !l.warmup).length - 2);
  t.true((chart('cost-bytes-stopped')?.points ?? 0) > 0);
  t.is(chart('forest')?.points, summary.comparisons.length * summary.metrics.length);
  for (const c of page.charts) {
    t.is(c.role, 'img', c.id);
    t.true(c.title.length > 0, c.id);
  }
  t.is(page.tablesWithoutCaption, 0);
  t.true(page.scrollWidth <= page.clientWidth, `no horizontal scroll at 1400 px (${page.scrollWidth} > ${page.clientWidth})`);

  // Methods: the blocks as they ran, computed here from iterations.ndjson.
  for (const [size, blocks] of blocksFromLines(lines)) t.true(page.methods.includes(`${size}: blocks ${blocks};`), `${size}: ${blocks}\n${page.methods}`);
  t.regex(page.methods, /interleaved, mean positions within [\d.]+ migrations of each other \(drift balanced\)/);

  // Probe timelines: one per cell, each showing the cell's ok migration at the lower median (computed here from the raw lines).
  const probeCharts = page.charts.filter((c) => c.id.startsWith('probes-'));
  t.is(probeCharts.length, summary.cells.length);
  for (const cell of summary.cells) {
    const ok = lines
      .filter((l) => l.variant === cell.variant && l.vmSize === cell.vmSize && !l.warmup && l.status === 'ok')
      .sort((a, b) => a.metrics.runstate! - b.metrics.runstate! || a.seq - b.seq);
    const lowerMedian = ok[Math.floor((ok.length - 1) / 2)];
    const chart = probeCharts.find((c) => c.title.includes(`${cell.variant} ${cell.vmSize}`) || c.title.includes(cell.label));
    t.truthy(chart, `a probe timeline for ${cell.label}: ${probeCharts.map((c) => c.title).join(' | ')}`);
    t.true(chart!.title.endsWith(`migration ${lowerMedian.seq}`), `${cell.label}: ${chart!.title}, expected migration ${lowerMedian.seq}`);
    t.true(chart!.points > 20, `${cell.label}: reply bins drawn (${chart!.points})`);
  }
});
