import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../../harness/stats/random.ts';
import { analyseMigration, analyseParsed, analysisEvents } from '../../harness/metrics/analyse.ts';
import { type MetricRule } from '../../harness/profile/schema.ts';
import { BUILTIN_METRICS } from '../../harness/profile/metric-rules.ts';
import { parseTrace, type ParseOptions } from '../../harness/traces/parse.ts';
import { scanTraceFile } from '../../harness/traces/read.ts';
import { scanTrace } from '../../harness/traces/scan.ts';
import { traceLines, type GeneratedTrace } from '../../bench/trace-gen.ts';

/** Splits bytes at the given offsets (so chunk boundaries fall mid-line, mid-CRLF, mid-UTF-8). */
function chunksAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out.push(bytes.subarray(from, cut));
    from = cut;
  }
  out.push(bytes.subarray(from));
  return out;
}

function sameAsParser(t: import('ava').ExecutionContext, text: string | Buffer, options: ParseOptions, label: string) {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const expected = parseTrace(bytes.toString('utf8'), options);
  t.deepEqual(scanTrace([bytes], options), expected, `${label}: one chunk`);
  if (bytes.length <= 20_000) {
    const everyByte = Array.from({ length: bytes.length }, (_, i) => i);
    t.deepEqual(scanTrace(chunksAt(bytes, everyByte), options), expected, `${label}: one byte per chunk`);
  }
  const random = seededRandom(bytes.length);
  for (let round = 0; round < 5; round++) {
    const cuts = Array.from({ length: 1 + Math.floor(random() * 8) }, () => Math.floor(random() * bytes.length));
    t.deepEqual(scanTrace(chunksAt(bytes, cuts), options), expected, `${label}: cut at ${cuts.join(',')}`);
  }
  return expected;
}

const VDPA = new Set(['vhost_vdpa_suspend', 'vhost_vdpa_reset_device', 'vhost_vdpa_set_vring_enable_one', 'vhost_vdpa_set_vring_ready']);

const MIXED = [
  "qemu-system-x86_64: warning: host doesn't support requested feature",
  '2986097@1753122905.917608:vhost_vdpa_suspend dev: 0x1\r',
  '',
  '   \t',
  'vhost_vdpa_suspend dev: 0x1',
  '2986097@1753122905.9176', // torn mid-write
  '2986097@1753122905.91760', // torn: a valid-looking prefix without an event
  '2986097@1753122905.917608:', // torn after the colon
  '2986097@1753122905.1234567:vhost_vdpa_suspend dev: 0x1', // seven fraction digits
  '2986097@1753122905.917:vhost_vdpa_suspend dev: 0x2', // short fraction, padded
  '2986097@1753122905.917608:vhost_vdpa_suspend', // no arguments
  '2986097@1753122905.917608:vhost_vdpa_suspend ', // a space and nothing after it
  '2986097@1753122905.917608:vhost_vdpa_suspendX dev: 0x3', // a longer name is another event
  '2986097@1753122905.917608:vhost_vdpa_suspend-x dev: 0x3', // not a name character
  '2986097@1753122905.917608:vhost_vdpa_suspend dev: 0x4\r\r', // two CRs: the parser keeps one
  '2986097@1753122905.917608:vhost_vdpa_suspend dev:\r0x5', // CR inside the line
  '2986097@1753122905.917608:vhost_vdpa_suspend dev: \u2028 0x6', // a line separator inside the arguments
  '2986097@1753122905.917608:vhost_vdpa_suspend dev: é ü 0x7', // other non-ASCII is fine
  '2025-07-21T18:43:28.089797Z vhost_vdpa_set_vring_enable_one dev: 0x1, idx: 0, enable: 1, r: 0',
  '2025-07-21T18:43:28Z vhost_vdpa_set_vring_enable_one dev: 0x1, idx: 1, enable: 1, r: 0\r',
  '2025-07-21T18:43:28.0897971234Z vhost_vdpa_suspend dev: 0x1', // ten fraction digits
  '2025-07-21 18:43:28.089797Z vhost_vdpa_suspend dev: 0x1',
  '12345@1753122905917608123 vhost_vdpa_suspend dev: 0x55d0c1a3b2c0',
  '12345@175312290 vhost_vdpa_suspend dev: 0x1', // stap needs ten digits
  '1234567890123456789@1753122905.917608:vhost_vdpa_suspend dev: 0x8', // 19-digit thread id
  '1@12345678901234567890.5:vhost_vdpa_suspend dev: 0x9', // 20-digit seconds
  '1@1.5:some_event',
  '2986097@1753122905.917608:vhost_vdpa_dma_map vdpa_shared:0x1 fd: 17 msg_type: 2 asid: 0 iova: 0x1000 size: 0x1000 uaddr: 0x7f00 perm: 0x3 type: 2',
  '\ufeff2986097@1753122905.917608:vhost_vdpa_suspend dev: 0xa', // a BOM
].join('\n');

test('scanner and line parser agree on torn, unparseable, CRLF, non-ASCII and every format, with and without a filter', (t) => {
  for (const text of [MIXED, MIXED + '\n', MIXED.replaceAll('\n', '\r\n'), '\n\n' + MIXED + '\n\n\n']) {
    const filtered = sameAsParser(t, text, { events: VDPA }, 'vdpa filter');
    sameAsParser(t, text, {}, 'no filter');
    sameAsParser(t, text, { events: new Set(['some_event', 'vhost_vdpa_dma_map']) }, 'other filter');
    t.true(filtered.unparsedCount >= 8);
    t.true(filtered.events.length >= 8);
  }
});

test('scanner agrees on edge inputs: empty, no final newline, only blanks, one long line', (t) => {
  for (const text of ['', '\n', '\r\n', '1@1.5:a', '1@1.5:a\n1@1.6:a', ' \n \n', '1@1.5:a ' + 'x'.repeat(100_000)]) {
    sameAsParser(t, text, { events: new Set(['a']) }, JSON.stringify(text.slice(0, 20)));
  }
});

test('invalid UTF-8 decodes the same way in both (replacement characters), including at chunk edges', (t) => {
  const bytes = Buffer.concat([
    Buffer.from('1@1.5:vhost_vdpa_suspend dev: '),
    Buffer.from([0xff, 0xc3, 0x0a]), // invalid byte, then a truncated two-byte sequence before the newline
    Buffer.from('1@1.6:vhost_vdpa_suspend d'),
    Buffer.from([0xe2, 0x82]), // truncated euro sign, starts like a line separator
    Buffer.from('\n1@1.7:vhost_vdpa_suspend ok'),
    Buffer.from([0xe2, 0x82, 0xac]),
  ]);
  sameAsParser(t, bytes, { events: VDPA }, 'invalid utf-8');
});

test("scanner agrees with the parser on a generated vDPA trace, and finds the generator's anchors", (t) => {
  const stats: GeneratedTrace = { bytes: 0, lines: 0, counts: {} };
  const text = [...traceLines({ bytes: 400_000, side: 'source', iommuPairsPerStart: 200 }, stats)].join('');
  const parsed = sameAsParser(t, text, { events: VDPA }, 'generated');
  const last = parsed.events.filter((e) => e.name === 'vhost_vdpa_suspend').pop()!;
  t.is(last.timeUs, stats.lastSuspendUs!);
  t.true(parsed.unparsedCount > 0, 'the generator writes warnings and torn lines');
});

test('analysis from scanned files equals analysis from the texts', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vdpa-bench-scan-'));
  try {
    const sourceStats: GeneratedTrace = { bytes: 0, lines: 0, counts: {} };
    const destinationStats: GeneratedTrace = { bytes: 0, lines: 0, counts: {} };
    const sourceText = [...traceLines({ bytes: 200_000, side: 'source', iommuPairsPerStart: 100 }, sourceStats)].join('');
    const destinationText = [
      ...traceLines({ bytes: 50_000, side: 'destination', iommuPairsPerStart: 100, startUs: sourceStats.lastSuspendUs! + 20_000 }, destinationStats),
    ].join('');
    await writeFile(join(dir, 'src.log'), sourceText);
    await writeFile(join(dir, 'dst.log'), destinationText);
    const rules = BUILTIN_METRICS as Record<string, MetricRule>;
    const names = ['vdpa', 'vdpa-ready', 'runstate'];
    const common = { rules, names, primary: 'vdpa', clockOffsetUs: 0 };
    const fromText = analyseMigration({ ...common, sourceText, destinationText });
    const wanted = analysisEvents(rules, names);
    // a small chunk size puts many chunk boundaries inside lines
    const fromFiles = analyseParsed({
      ...common,
      source: await scanTraceFile(join(dir, 'src.log'), { events: wanted }, 4096),
      destination: await scanTraceFile(join(dir, 'dst.log'), { events: wanted }, 4096),
    });
    t.deepEqual(fromFiles, fromText);
    t.is(fromText.status, 'ok');
    t.is(fromText.metrics.vdpa, (destinationStats.lastEnableUs! - sourceStats.lastSuspendUs!) / 1000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('digit runs of every length next to the bytes just outside 0-9 are read as the parser reads them', (t) => {
  const lines: string[] = [];
  for (let n = 1; n <= 12; n++) {
    const digits = '1234567890123'.slice(0, n);
    for (const after of [':', ';', '<', '=', '>', '?', '/', '@', '.', ' ', 'Z']) {
      lines.push(`${digits}@1753122905.917608:vhost_vdpa_suspend dev: 0x1`.replace('1753122905', `${digits}${after}5`));
      lines.push(`4242@${digits}.${digits.slice(0, 6)}${after}vhost_vdpa_suspend dev: 0x1`);
      lines.push(`${digits}${after}1753122905.917608:vhost_vdpa_suspend dev: 0x1`);
    }
  }
  const text = lines.join('\n') + '\n';
  const result = sameAsParser(t, text, { events: VDPA }, 'digit edges');
  t.true(result.events.length > 10 && result.unparsedCount > 100);
});
