import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCHEMA_DIR, schemaFileText } from '../../harness/results/export-schema.ts';
import { iterationRecordSchema, recordedIterationSchema, resultsJsonSchemas, runManifestSchema } from '../../harness/results/schema.ts';
import { parseIterations, ResultsFormatError } from '../../harness/results/store.ts';

const fixture = fileURLToPath(new URL('../fixtures/seed-run', import.meta.url));

test('the committed JSON Schema files are the ones the zod schemas export (npm run build:results-schema)', async (t) => {
  for (const [name, schema] of Object.entries(resultsJsonSchemas())) {
    t.is(await readFile(join(SCHEMA_DIR, name), 'utf8'), schemaFileText(schema), `docs/schemas/${name} is stale: run npm run build:results-schema`);
  }
});

test('records and manifest the harness wrote validate without losing a field', async (t) => {
  const lines = (await readFile(join(fixture, 'iterations.ndjson'), 'utf8')).trim().split('\n');
  for (const line of lines) {
    const value = JSON.parse(line) as unknown;
    t.deepEqual(iterationRecordSchema.parse(value), value);
    t.deepEqual(recordedIterationSchema.parse(value), value, 'a harness record has every field of the recorded format');
  }
  const manifest = JSON.parse(await readFile(join(fixture, 'manifest.json'), 'utf8')) as unknown;
  t.deepEqual(runManifestSchema.parse(manifest), manifest);
});

test("another lab's records: only variant, vmSize, status and downtimeMs; seq and blocks from the file order", (t) => {
  const text = [
    { variant: 'a', vmSize: '4G', status: 'ok', downtimeMs: 10 },
    { variant: 'a', vmSize: '4G', status: 'ok', downtimeMs: 12 },
    { variant: 'b', vmSize: '4G', status: 'invalid', downtimeMs: null, reason: 'guest oops' },
    { variant: 'a', vmSize: '4G', status: 'ok', downtimeMs: 11 },
  ]
    .map((r) => JSON.stringify(r))
    .join('\n');
  const { records, seqFromFile } = parseIterations(text + '\n');
  t.true(seqFromFile);
  t.deepEqual(
    records.map((r) => [r.seq, r.block, r.iteration, r.primaryMetric]),
    [
      [1, 1, 1, 'downtimeMs'],
      [2, 1, 2, 'downtimeMs'],
      [3, 2, 1, 'downtimeMs'],
      [4, 3, 3, 'downtimeMs'],
    ],
  );
});

test('a record that does not match the format is an error naming its line and field; a torn last line is only reported', (t) => {
  const error = t.throws(
    () => parseIterations('{"variant":"a","vmSize":"1G","status":"ok"}\n{"variant":"a","vmSize":"1G","status":"done","downtimeMs":"5"}\n'),
    { instanceOf: ResultsFormatError },
  );
  t.regex(error!.message, /line 2: status: .*; downtimeMs: /);
  // unknown fields are kept and named (issue 22), not refused
  t.deepEqual(parseIterations('{"variant":"a","vmSize":"1G","status":"ok","surprise":1}\n').warnings, [
    'iterations.ndjson: field "surprise" is not in the record format; kept as it is (line 1)',
  ]);
  t.deepEqual(parseIterations('{"variant":"a","vmSize":"1G","status":"ok"}\n{"variant":"a","vm').tornLines, [2]);
});

test('a record completed by the reader is in the recorded format: written again (merge), it reads back', (t) => {
  const { records } = parseIterations('{"variant":"a","vmSize":"1G","status":"ok","downtimeMs":7}\n');
  const rewritten = JSON.parse(JSON.stringify(records[0])) as Record<string, unknown>;
  t.deepEqual(recordedIterationSchema.parse(rewritten), records[0]);
  t.false(recordedIterationSchema.safeParse({ ...rewritten, seq: undefined }).success, 'the recorded format requires seq');
});
