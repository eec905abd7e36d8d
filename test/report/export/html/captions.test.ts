/**
 * Every chart of every recorded run, rendered by Vega (the scene the SVG is drawn from), held to its
 * caption: each mark a caption names is drawn, in the colour and dash it names; a caption names no
 * colour and no dashed line that no drawn mark has; each legend entry stands for data the chart
 * draws; no label is cut off. Then the charts issue 21 asked for: run-order lines only within a
 * block, a forest panel per metric with zero labelled, phase charts zoomed on the window with a
 * representative of each group of a split cell.
 */
import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { distributionCharts, runOrderCharts, type ChartSpec } from '../../../../harness/report/export/html/charts.ts';
import { COLOUR_NAMES, colourName, type Key } from '../../../../harness/report/export/html/chart-style.ts';
import { costCharts, forestChart } from '../../../../harness/report/export/html/cost-charts.ts';
import { phaseCharts } from '../../../../harness/report/export/html/phase-chart.ts';
import { probeCharts } from '../../../../harness/report/export/html/probe-chart.ts';
import { loadRun } from '../../../../harness/report/load.ts';
import { reportSettings } from '../../../../harness/report/model/settings.ts';
import { buildSummary } from '../../../../harness/report/model/summary.ts';
import type { Summary } from '../../../../harness/report/model/types.ts';

const BACKPORTS = 'docs/results/2026-12-07-softlab-two-hosts-backports/softlab-two-hosts-backports-20261207-160900-fc0a.tar.gz';
const RUNS = ['test/fixtures/two-hosts-precision', 'docs/examples/lab-in-a-box', 'test/fixtures/lab-in-a-box-damaged', 'test/fixtures/seed-run'];

interface SceneItem {
  fill?: string;
  stroke?: string;
  strokeDash?: number[];
  text?: string;
  x?: number;
  x2?: number;
  width?: number;
  items?: SceneMark[];
}
interface SceneMark {
  marktype: string;
  role: string;
  name?: string;
  items: SceneItem[];
}

let scratch = '';
const summaries = new Map<string, Summary>();

test.before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'vdpa-bench-captions-'));
  await execa('tar', ['xzf', BACKPORTS, '-C', scratch]);
  for (const dir of [join(scratch, 'softlab-two-hosts-backports-20261207-160900-fc0a'), ...RUNS]) {
    const run = await loadRun(dir);
    summaries.set(dir.includes('backports') ? 'backports' : dir, buildSummary({ runs: [run], settings: reportSettings(run.manifest), records: run.records }));
  }
});
test.after.always(() => rm(scratch, { recursive: true, force: true }));

const allCharts = (s: Summary): ChartSpec[] => [
  ...distributionCharts(s),
  ...runOrderCharts(s),
  ...costCharts(s),
  ...forestChart(s),
  ...phaseCharts(s),
  ...probeCharts(s),
];

async function scene(chart: ChartSpec): Promise<{ marks: SceneMark[]; svg: string }> {
  const view = new vega.View(vega.parse(compile(chart.spec).spec), { renderer: 'none' });
  await view.runAsync();
  const marks: SceneMark[] = [];
  const walk = (mark: SceneMark) => {
    marks.push(mark);
    for (const item of mark.items) for (const child of item.items ?? []) walk(child);
  };
  walk((view.scenegraph() as unknown as { root: SceneMark }).root);
  const svg = await view.toSVG();
  view.finalize();
  return { marks, svg };
}

const same = (a: string | undefined, b: string) => a !== undefined && a.toUpperCase() === b.toUpperCase();
const drawsKey = (marks: SceneMark[], key: Key) =>
  marks.some(
    (m) =>
      m.role === 'mark' &&
      m.marktype === key.marktype &&
      m.items.some((i) => (!key.colour || same(i.fill, key.colour) || same(i.stroke, key.colour)) && (!key.dashed || (i.strokeDash?.length ?? 0) > 0)),
  );

/** Every string in the spec's inline data: what a legend entry may name. */
function dataStrings(spec: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(spec)) spec.forEach((x) => dataStrings(x, out));
  else if (spec && typeof spec === 'object')
    for (const [k, v] of Object.entries(spec)) {
      if (k === 'values' && Array.isArray(v)) for (const row of v) for (const x of Object.values(row as object)) if (typeof x === 'string') out.add(x);
      dataStrings(v, out);
    }
  return out;
}

/** The colour words of a caption, longest first so "dark blue" is not also read as "blue". */
function colourWords(caption: string): string[] {
  let rest = caption.toLowerCase();
  const found: string[] = [];
  for (const name of Object.values(COLOUR_NAMES).sort((a, b) => b.length - a.length)) {
    const re = new RegExp(`\\b${name}\\b`, 'g');
    if (re.test(rest)) found.push(name);
    rest = rest.replace(re, '');
  }
  return found;
}

test('every caption names only drawn marks, colours and dashes; every legend entry is drawn; no label is cut off', async (t) => {
  const problems: string[] = [];
  let checked = 0;
  for (const [run, summary] of summaries)
    for (const chart of allCharts(summary)) {
      const where = `${run} ${chart.id}`;
      const { marks, svg } = await scene(chart);
      for (const key of chart.keys) if (!drawsKey(marks, key)) problems.push(`${where}: "${key.says}" but no such ${key.marktype} is drawn`);
      if (!chart.keys.every((k) => chart.caption.includes(k.says))) problems.push(`${where}: the caption is not made from its keys`);
      const keyColours = new Set(chart.keys.filter((k) => k.colour).map((k) => colourName(k.colour!)));
      for (const word of colourWords(chart.caption))
        if (!keyColours.has(word)) problems.push(`${where}: the caption says "${word}", no drawn mark has that colour: ${chart.caption}`);
      if (/dashed/i.test(chart.caption) && !chart.keys.some((k) => k.dashed)) problems.push(`${where}: "dashed" without a dashed mark`);
      const strings = dataStrings(chart.spec);
      const entries = marks.filter((m) => m.role === 'legend-label').flatMap((m) => m.items.map((i) => i.text ?? ''));
      for (const entry of entries) if (!strings.has(entry)) problems.push(`${where}: legend entry "${entry}" stands for nothing drawn`);
      for (const cut of svg.match(/<text[^>]*>[^<]*…<\/text>/g) ?? []) problems.push(`${where}: a label is cut off: ${cut}`);
      checked++;
    }
  t.deepEqual(problems, []);
  t.true(checked > 40, `${checked} charts`);
});

test('run-order lines join a variant only within one block: no other variant ran between two joined points', (t) => {
  // the backports run's blocks: before×4 → after×4 → after×4 → before×4 per size
  const summary = summaries.get('backports')!;
  let lines = 0;
  for (const chart of runOrderCharts(summary)) {
    const layers = (chart.spec as { layer: { mark: { type: string }; data: { values: { order: number; variant: string; block: number }[] } }[] }).layer;
    const points = layers.find((l) => l.mark.type === 'point')!.data.values;
    const line = layers.find((l) => l.mark.type === 'line')!.data.values;
    for (const block of new Set(line.map((p) => p.block))) {
      const joined = line.filter((p) => p.block === block);
      const [from, to] = [Math.min(...joined.map((p) => p.order)), Math.max(...joined.map((p) => p.order))];
      t.is(new Set(joined.map((p) => p.variant)).size, 1);
      t.false(
        points.some((p) => p.variant !== joined[0].variant && p.order > from && p.order < to),
        `${chart.id}: block ${block} spans another variant`,
      );
      lines++;
    }
  }
  t.is(lines, 12, 'four blocks in each of three sizes');
});

test('the forest plot has a panel per metric on its own scale, zero labelled: a ms-scale shift spans its panel', async (t) => {
  const summary = summaries.get('backports')!;
  const [chart] = forestChart(summary);
  const { marks, svg } = await scene(chart);
  t.is((chart.spec as { vconcat: unknown[] }).vconcat.length, summary.metrics.length);
  t.is(svg.match(/>0 = no change</g)?.length, summary.metrics.length, 'zero labelled on every panel');
  // each panel's widest interval covers a good part of its width (runstate's ±100 ms beside vdpa's seconds)
  const panels = marks.filter((m) => m.role === 'scope').flatMap((m) => m.items);
  t.is(panels.length, summary.metrics.length);
  for (const panel of panels) {
    const intervals = (panel.items ?? []).filter((m) => m.marktype === 'rule').flatMap((m) => m.items.filter((i) => same(i.stroke, '#0072B2')));
    const widest = Math.max(...intervals.map((i) => Math.abs((i.x2 ?? 0) - (i.x ?? 0))));
    t.true(widest > 0.25 * panel.width!, `widest interval ${widest.toFixed(0)} px of ${panel.width} px`);
  }
});

test('phase charts: the window zoomed with what follows it just after; a split cell shows a representative of each group', (t) => {
  // backports after 512M: migration 54, window 0–128.6 ms, the 8 dma_map batch at 130.9–134.8 ms and DRIVER_OK at 135.0 ms
  const backports = phaseCharts(summaries.get('backports')!);
  const after512 = backports.find((c) => c.title === 'Phases: after 512M 1qp, migration 54')!;
  const zoom = (after512.spec as { vconcat: { layer: { data: { values: { phase: string; start?: number; end?: number }[] } }[] }[] }).vconcat[0];
  const zoomed = zoom.layer.flatMap((l) => l.data.values.map((v) => v.phase)).filter(Boolean);
  t.true(zoomed.includes('pinning 5: 8 dma_map, 512 MiB'));
  t.true(zoomed.includes('DRIVER_OK'));
  t.false(zoomed.includes('pinning 1: 1 dma_map, 512 MiB'), 'pinning 11.5 s before the freeze is in the whole timeline only');
  t.is(backports.length, 6, 'one per cell: no cell of the backports run splits');
  // precision before 512M: 324–1374 ms and 6157–7755 ms
  const precision = phaseCharts(summaries.get('test/fixtures/two-hosts-precision')!);
  const split = precision.filter((c) => c.title.startsWith('Phases: before 512M 1qp'));
  t.deepEqual(
    split.map((c) => c.title.replace(/migration \d+/, 'migration N')),
    ['Phases: before 512M 1qp, migration N (fast group)', 'Phases: before 512M 1qp, migration N (slow group)'],
  );
  const panels = (c: ChartSpec) => (c.spec as { vconcat: { title: { text: string } }[] }).vconcat.map((v) => v.title.text);
  t.deepEqual(panels(after512), ['The downtime window, zoomed: -20.0 to 148.6 ms', 'The whole timeline']);
  // the fast group's migration pinned inside its window: nothing lies outside the zoomed span, one panel
  t.deepEqual(panels(split[0]), ['The downtime window and every phase']);
  t.regex(split[0].caption, /median of the fast group \(n = 4, 324\.4–1373\.8 ms\)/);
  t.regex(split[1].caption, /median of the slow group \(n = 4, 6157\.4–7755\.2 ms\)/);
});

test('a distribution with a split cell draws a median per group and no box for it (precision run, before 512M)', (t) => {
  const summary = summaries.get('test/fixtures/two-hosts-precision')!;
  const chart = distributionCharts(summary).find((c) => c.title === 'Distribution: 512M VM, 1 queue pair')!;
  type Layer = { mark: { type: string } | string; data: { values: { variant: string; downtime: number }[] } };
  const layers = (chart.spec as { layer: Layer[] }).layer;
  const kind = (l: Layer) => (typeof l.mark === 'string' ? l.mark : l.mark.type);
  const ticks = layers.find((l) => kind(l) === 'tick')!.data.values;
  t.deepEqual(
    ticks.filter((m) => m.variant === 'before').map((m) => m.downtime),
    [383.847, 6664.6435],
  );
  t.is(ticks.filter((m) => m.variant === 'after').length, 1);
  const box = layers.find((l) => kind(l) === 'boxplot')!.data.values;
  t.false(
    box.some((p) => p.variant === 'before'),
    'no box over two groups',
  );
  t.true(box.some((p) => p.variant === 'after'));
  t.regex(chart.caption, /before: two groups \(a median tick for each, no box\)/);
});
