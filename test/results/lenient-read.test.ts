/**
 * Records from other labs (issue 22, item 5): a partial manifest reads with what it lacks shown
 * as unknown, a failed migration's `qmp: {}` as no QMP figures, unknown fields kept and named.
 */
import test from 'ava';
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIterations, readManifestLenient } from '../../harness/results/store.ts';
import type { Summary } from '../../harness/report/model/types.ts';
import { REPO, vdpaBench } from '../helpers/cli.ts';
import { readJson } from '../helpers/json.ts';

const SEED = join(REPO, 'test/fixtures/seed-run');

async function otherLab(manifest: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vb-other-lab-'));
  await copyFile(join(SEED, 'iterations.ndjson'), join(dir, 'iterations.ndjson'));
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

test('report reads a directory whose manifest holds only compare: the pair is compared, the rest is unknown', async (t) => {
  const dir = await otherLab({ compare: { baseline: 'before', candidate: 'after' } });
  const r = await vdpaBench(['report', dir, '--format', 'text', '--format', 'json', '--out', join(dir, 'report')]);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /before -> after: mean downtime/);
  t.regex(r.stdout, /^- 39G VM: /m);
  const summary = await readJson<Summary>(join(dir, 'report', 'summary.json'));
  t.is(summary.runs[0].tool, 'unknown');
  t.is(summary.runs[0].state, 'unknown');
  t.true(summary.warnings.some((w: { message: string }) => /manifest carries no profile: the pair to compare is the manifest's compare/.test(w.message)));
});

test('a manifest of only runId and compare gives the run its id; the pair can be the other way round', async (t) => {
  const dir = await otherLab({ runId: 'other-lab-42', compare: { baseline: 'after', candidate: 'before' } });
  const r = await vdpaBench(['report', dir, '--format', 'json', '--out', join(dir, 'report')]);
  t.is(r.exitCode, 0, r.stderr);
  const summary = await readJson<Summary>(join(dir, 'report', 'summary.json'));
  t.is(summary.runs[0].runId, 'other-lab-42');
  t.regex(JSON.stringify(summary.comparisons[0]), /"baseline":"after"/);
});

test("a failed migration's qmp: {} reads as no QMP figures; figures it has are kept, the ones it lacks are null", (t) => {
  const base = { variant: 'a', vmSize: '1G' };
  const { records } = parseIterations(
    [
      JSON.stringify({ ...base, status: 'failed', reason: 'destination QEMU died', qmp: {} }),
      JSON.stringify({ ...base, status: 'ok', downtimeMs: 12, qmp: { downtimeMs: 10 } }),
    ].join('\n'),
  );
  t.is(records[0].qmp, null);
  t.deepEqual(records[1].qmp, { downtimeMs: 10, totalTimeMs: null, setupTimeMs: null });
});

test('unknown fields are kept on the record and named in a warning, in the report too', async (t) => {
  const line = JSON.stringify({ variant: 'a', vmSize: '1G', status: 'ok', downtimeMs: 5, labNote: 'rack 3', cpuTempC: 61 });
  const read = parseIterations(`${line}\n${line}\n`);
  t.is((read.records[0] as unknown as { labNote: string }).labNote, 'rack 3');
  t.deepEqual(read.warnings, [
    'iterations.ndjson: field "labNote" is not in the record format; kept as it is (2 lines, first 1)',
    'iterations.ndjson: field "cpuTempC" is not in the record format; kept as it is (2 lines, first 1)',
  ]);
  const dir = await otherLab({ runId: 'x', compare: { baseline: 'a' }, labName: 'elsewhere' });
  await writeFile(join(dir, 'iterations.ndjson'), `${line}\n`);
  const manifest = await readManifestLenient(dir);
  t.deepEqual(manifest.warnings, ['manifest.json: field "labName" is not in the manifest format; kept as it is']);
  t.is((manifest.manifest as { labName?: string }).labName, 'elsewhere');
  const r = await vdpaBench(['report', dir, '--format', 'text', '--out', join(dir, 'report')]);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /read leniently/);
  t.regex(r.stdout, /field "labNote" is not in the record format/);
});

test('a manifest field of the wrong type is still refused, naming it', async (t) => {
  const dir = await otherLab({ runId: 7 });
  await t.throwsAsync(readManifestLenient(dir), { message: /manifest\.json does not match the manifest format .*runId/ });
});
