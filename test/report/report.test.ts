import test from 'ava';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Summary } from '../../harness/report/model/types.ts';
import { vdpaBench } from '../helpers/cli.ts';
import type { IterationRecord } from '../../harness/results/types.ts';
import { parseJson } from '../helpers/json.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = join(root, 'test/fixtures/seed-run');
const SEED_LINES = ['- 39G VM:   4.72s -> 2.09s (-2.63s, ~56% improvement)', '- 128G VM:  14.72s -> 5.83s (-8.89s, ~60% improvement)'];

const cli = (args: string[]) => vdpaBench(args);
const scratch = () => mkdtemp(join(tmpdir(), 'vdpa-bench-report-'));

test('report of the fixture run prints exactly the seed cover letter lines, after a set-up sentence naming the metric', async (t) => {
  const out = await scratch();
  const result = await cli(['report', fixture, '--out', out]);
  t.is(result.exitCode, 0, result.stderr);
  const lines = result.stdout.split('\n');
  const at = lines.indexOf(SEED_LINES[0]);
  t.true(at > 0, result.stdout);
  t.is(lines[at + 1], SEED_LINES[1]);
  t.regex(lines[at - 1], /^Using ConnectX-6 Dx \(MLX5\) NICs in vhost-vDPA mode with 8 queue-pairs, .*"vdpa" metric/);
  t.deepEqual((await readdir(out)).sort(), ['report.html', 'report.md', 'summary.json', 'summary.txt']);
  t.is(await readFile(join(out, 'summary.txt'), 'utf8'), result.stdout + '\n');
  await rm(out, { recursive: true });
});

test('summary.json carries every number: cells, success rates, outliers, disagreements, comparisons', async (t) => {
  const out = await scratch();
  t.is((await cli(['report', fixture, '--format', 'json', '--out', out])).exitCode, 0);
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Summary;
  t.deepEqual(await readdir(out), ['summary.json']);
  t.is(summary.primary, 'vdpa');
  t.deepEqual(
    summary.metrics.map((m) => m.name),
    ['vdpa', 'vdpa-ready', 'qmp:downtime'],
  );
  const cell = (label: string) => summary.cells.find((c) => c.label === label)!;
  t.deepEqual(cell('before 39G 8qp').counts, { measured: 11, ok: 10, failed: 1, invalid: 0, warmup: 1, warmupNotOk: 0 });
  t.is(cell('after 128G 8qp').counts.invalid, 1);
  t.is(cell('before 39G 8qp').metrics.vdpa!.mean, 4720, 'the warm-up (14.16 s) is left out');
  t.deepEqual(cell('after 39G 8qp').outlierSeqs, [14, 23]);
  t.deepEqual(cell('after 128G 8qp').disagreementSeqs, [38]);
  t.is(summary.settings.baseline, 'before');
  t.is(summary.settings.pairSource, 'profile compare: {baseline, candidate}');
  const comparison = summary.comparisons.find((c) => c.vmSize === '128G')!.metrics.vdpa;
  t.false('error' in comparison);
  if ('error' in comparison) return;
  t.is(comparison.verdict, 'improvement');
  t.true(Math.abs(comparison.diffMeans + 8890) < 1e-9);
  t.true(comparison.mannWhitney.p < 0.001);
  t.is(comparison.mannWhitney.method, 'exact');
  t.is(summary.setup.clock.maxUncertaintyUs, 160);
  await rm(out, { recursive: true });
});

test('only iterations.ndjson is needed: what the manifest would say shows as unknown, the lines stay', async (t) => {
  const run = await scratch();
  await copyFile(join(fixture, 'iterations.ndjson'), join(run, 'iterations.ndjson'));
  const result = await cli(['report', run, '--out', join(run, 'out')]);
  t.is(result.exitCode, 0, result.stderr);
  t.true(result.stdout.includes(SEED_LINES.join('\n')), result.stdout);
  t.regex(result.stdout, /unknown NIC and mode/);
  const md = await readFile(join(run, 'out', 'report.md'), 'utf8');
  t.regex(md, /no manifest\.json/);
  t.regex(md, /Hosts: unknown/);
  t.regex(md, /default: the first two variants in the order they appear in the data/);
  await rm(run, { recursive: true });
});

test('compare: the same before/after across two runs', async (t) => {
  const dir = await scratch();
  const lines = (await readFile(join(fixture, 'iterations.ndjson'), 'utf8')).trim().split('\n');
  for (const variant of ['before', 'after']) {
    await mkdir(join(dir, variant));
    await writeFile(
      join(dir, variant, 'iterations.ndjson'),
      lines
        .filter((l) => parseJson<IterationRecord>(l).variant === variant)
        .map((l) => l.replace(`"variant": "${variant}"`, '"variant": "qemu"'))
        .join('\n') + '\n',
    );
  }
  const result = await cli(['compare', join(dir, 'before'), join(dir, 'after'), '--out', join(dir, 'out')]);
  t.is(result.exitCode, 0, result.stderr);
  t.true(result.stdout.includes(SEED_LINES.join('\n')), result.stdout);
  t.regex(result.stdout, /qemu \(baseline run\) -> qemu \(candidate run\)/);
  const summary = JSON.parse(await readFile(join(dir, 'out', 'summary.json'), 'utf8')) as Summary;
  t.deepEqual(
    summary.runs.map((r) => r.runId),
    ['before', 'after'],
  );
  await rm(dir, { recursive: true });
});

test('bad input: a missing directory and a record without its cell are clear errors (exit 2)', async (t) => {
  const dir = await scratch();
  const missing = await cli(['report', join(dir, 'nope')]);
  t.is(missing.exitCode, 2);
  t.regex(missing.stderr, /no iterations\.ndjson \(is this a vdpa-bench run directory\?\)/);
  await writeFile(join(dir, 'iterations.ndjson'), '{"seq": 1, "variant": "a", "status": "ok"}\n');
  const broken = await cli(['report', dir]);
  t.is(broken.exitCode, 2);
  t.regex(broken.stderr, /iterations\.ndjson does not match the record format .*line 1: vmSize: /);
  const format = await cli(['report', fixture, '--format', 'pdf']);
  t.is(format.exitCode, 2);
  t.regex(format.stderr, /expected one of text, md, html, json/);
  await rm(dir, { recursive: true });
});
