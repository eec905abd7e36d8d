/**
 * The probe timeline around the switchover, on a copy of the example run given synthetic probe logs
 * in the prober's exact format: which migration each cell shows, the lost runs and reply bins as
 * generated, missing and broken logs named, and no section at all for a run without probes/.
 */
import test from 'ava';
import { mkdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderHtml } from '../../../harness/report/export/html/html.ts';
import { summarizeRun } from '../../../harness/report/index.ts';
import { loadRun } from '../../../harness/report/load.ts';
import { renderMarkdown } from '../../../harness/report/export/markdown.ts';
import { PROBE_BIN_MS, PROBE_MARGIN_MS } from '../../../harness/report/model/probe-timeline.ts';
import type { ProbeTimeline, Summary } from '../../../harness/report/model/types.ts';
import { EXAMPLE, probeFile, probeLog, probeRun, type GeneratedLog } from '../probe-run.ts';

const records = async () => (await loadRun(EXAMPLE)).records;
/** A real lab-in-a-box run committed without its probe logs. */
const NO_PROBES = fileURLToPath(new URL('../../fixtures/lab-in-a-box-damaged', import.meta.url));

/** Per cell, the ok measured migrations with a log sorted by primary value (then seq): the lower median is the one shown. */
function lowerMedians(summary: Summary, logged: (seq: number) => boolean): Map<string, number> {
  const out = new Map<string, number>();
  for (const cell of summary.cells) {
    const ok = summary.migrations
      .filter((r) => r.cell === cell.key && !r.warmup && r.status === 'ok' && r.values[summary.primary] !== null && logged(r.seq))
      .sort((a, b) => a.values[summary.primary]! - b.values[summary.primary]! || a.seq - b.seq);
    if (ok.length) out.set(cell.key, ok[Math.floor((ok.length - 1) / 2)].seq);
  }
  return out;
}

/** What the panel must show, from the generated log alone. */
function expected(log: GeneratedLog) {
  const main = log.lostRuns.filter((r) => r.fromUs >= log.freezeUs - PROBE_MARGIN_MS * 1000).reduce((a, b) => (b.probes > a.probes ? b : a));
  const fromUs = log.freezeUs - PROBE_MARGIN_MS * 1000;
  const toUs = Math.max(log.resumeUs, main.toUs) + PROBE_MARGIN_MS * 1000;
  const bins = new Map<number, { max: number; n: number }>();
  for (const p of log.probes) {
    if (p.receivedUs === null || p.sentUs < fromUs || p.sentUs > toUs) continue;
    const k = Math.floor((p.sentUs - log.freezeUs) / (PROBE_BIN_MS * 1000)) * PROBE_BIN_MS;
    const reply = (p.receivedUs - p.sentUs) / 1000;
    bins.set(k, { max: Math.max(bins.get(k)?.max ?? 0, reply), n: (bins.get(k)?.n ?? 0) + 1 });
  }
  return {
    lostRuns: log.lostRuns
      .filter((r) => r.fromUs <= toUs && r.toUs >= fromUs)
      .map((r) => ({ fromMs: (r.fromUs - log.freezeUs) / 1000, toMs: (r.toUs - log.freezeUs) / 1000, probes: r.probes, open: false })),
    bins: [...bins.entries()].sort((a, b) => a[0] - b[0]).map(([fromMs, b]) => ({ fromMs, maxReplyMs: b.max, answered: b.n })),
    rangeMs: { from: -PROBE_MARGIN_MS, to: (toUs - log.freezeUs) / 1000 },
    downtimeMs: { from: 0, to: (log.resumeUs - log.freezeUs) / 1000 },
  };
}

/** parseProbeLog reads nanoseconds since 1970 through a double (2^60 > them > 2^53): each time may be off by 1 µs. */
const near = (a: number, b: number) => Math.abs(a - b) <= 0.0021;

test('each cell shows its lower-median migration: lost runs exact, replies as the longest per bin, the window around the freeze', async (t) => {
  const all = await records();
  const { dir, logs } = await probeRun(all);
  try {
    const summary = await summarizeRun(dir);
    const timelines = summary.probeTimelines!;
    t.deepEqual(timelines.missing, []);
    const medians = lowerMedians(summary, () => true);
    t.true(medians.size >= 2);
    t.deepEqual(new Map(timelines.panels.map((p) => [p.cell, p.seq])), medians);
    for (const panel of timelines.panels) {
      const want = expected(logs.get(panel.seq)!);
      t.is(panel.file, probeFile(panel.seq));
      t.deepEqual(
        panel.lostRuns.map((r) => [r.probes, r.open]),
        want.lostRuns.map((r) => [r.probes, r.open]),
      );
      t.true(panel.lostRuns.every((r, i) => near(r.fromMs, want.lostRuns[i].fromMs) && near(r.toMs, want.lostRuns[i].toMs)));
      // the stray loss 1 s before the freeze lies outside the window; the one 100 ms before lies inside
      t.is(panel.lostRuns.filter((r) => r.toMs <= 0).length, 1);
      t.deepEqual(
        panel.bins.map((b) => [b.fromMs, b.answered]),
        want.bins.map((b) => [b.fromMs, b.answered]),
      );
      t.deepEqual(panel.bins.filter((b, i) => !near(b.maxReplyMs, want.bins[i].maxReplyMs)).slice(0, 3), []);
      t.true(near(panel.rangeMs.to, want.rangeMs.to) && panel.rangeMs.from === want.rangeMs.from);
      t.true(near(panel.downtimeMs.to, want.downtimeMs.to));
      t.is(panel.primaryMs, summary.migrations.find((r) => r.seq === panel.seq)!.values[summary.primary]!);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a missing or unparsable log is named with its reason; the cell then shows the lower median of the logged ones', async (t) => {
  const all = await records();
  const { dir } = await probeRun(all);
  try {
    const first = await summarizeRun(dir);
    const [gone, broken] = first.probeTimelines!.panels.map((p) => p.seq);
    await unlink(join(dir, probeFile(gone)));
    await writeFile(join(dir, probeFile(broken)), '0 1795834417796371000 -1\n');
    const summary = await summarizeRun(dir);
    const missing = new Map(summary.probeTimelines!.missing.map((m) => [m.seq, m.reason]));
    t.deepEqual([...missing.keys()].sort(), [gone, broken].sort());
    t.regex(missing.get(gone)!, /no probe log: probes\/\d{4}\.txt and .*probes\/\d{4}\.txt are missing or unreadable/);
    t.regex(missing.get(broken)!, /probes\/\d{4}\.txt: probe log has no header line/);
    const medians = lowerMedians(summary, (seq) => seq !== gone && seq !== broken);
    t.deepEqual(new Map(summary.probeTimelines!.panels.map((p) => [p.cell, p.seq])), medians);
    t.false(summary.probeTimelines!.panels.some((p) => p.seq === gone || p.seq === broken));
    t.regex(summary.probeTimelines!.panels.find((p) => p.cell === first.probeTimelines!.panels[0].cell)!.chosen, /1 ok migration\(s\) of the cell have none/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a log missing from probes/ is read from the path the run recorded', async (t) => {
  const all = await records();
  const { dir } = await probeRun(all);
  const elsewhere = join(tmpdir(), `vdpa-bench-probes-elsewhere-${process.pid}`);
  try {
    const seq = (await summarizeRun(dir)).probeTimelines!.panels[0].seq;
    const record = all.find((r) => r.seq === seq)!;
    await mkdir(elsewhere, { recursive: true });
    const moved = join(elsewhere, 'moved.txt');
    await writeFile(moved, probeLog(record).text);
    await unlink(join(dir, probeFile(seq)));
    const lines = all.map((r) => JSON.stringify(r.seq === seq ? { ...r, extra: { ...r.extra, network: { ...(r.extra?.network as object), log: moved } } } : r));
    await writeFile(join(dir, 'iterations.ndjson'), `${lines.join('\n')}\n`);
    const panel = (await summarizeRun(dir)).probeTimelines!.panels[0];
    t.is(panel.seq, seq);
    t.is(panel.file, moved);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(elsewhere, { recursive: true, force: true });
  }
});

test('the HTML draws one accessible chart per panel and lists missing logs; Markdown has the numbers; a run without probes/ has neither', async (t) => {
  const all = await records();
  const { dir } = await probeRun(all);
  try {
    await unlink(join(dir, probeFile(all[0].seq)));
    const summary = await summarizeRun(dir);
    const html = await renderHtml(summary);
    const figures = [...html.matchAll(/<figure id="probes-(\d+)" class="chart">.*?<\/figure>/gs)].map((m) => m[0]);
    t.is(figures.length, summary.probeTimelines!.panels.length);
    summary.probeTimelines!.panels.forEach((p: ProbeTimeline, i) => {
      t.regex(figures[i], new RegExp(`<svg role="img" aria-label="Probes around the switchover: [^"]*, migration ${p.seq}"`));
      t.regex(figures[i], new RegExp(`Migration ${p.seq}, shown because its runstate is the lower median`));
      t.regex(figures[i], /aria-roledescription="rect mark"/);
    });
    t.regex(html, new RegExp(`<li>migration ${all[0].seq}: no probe log`));
    const md = renderMarkdown(summary);
    t.regex(md, /## Probes around the switchover/);
    for (const p of summary.probeTimelines!.panels) t.true(md.includes(`| ${p.label} | ${p.seq} |`));

    const plain = await summarizeRun(NO_PROBES);
    t.is(plain.probeTimelines, undefined);
    t.false((await renderHtml(plain)).includes('id="probes"'));
    t.false(renderMarkdown(plain).includes('Probes around the switchover'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
