/**
 * Nightly verdicts against a seeded history: run directories written in the results contract's
 * exact format (typed as RunManifest / IterationRecord), judged through the real command line.
 */
import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectChangePoints } from '../../harness/stats/change-points.ts';
import { median } from '../../harness/stats/describe.ts';
import { mannWhitney } from '../../harness/stats/mann-whitney.ts';
import { buildSchedule } from '../../harness/migration/schedule.ts';
import { shardBlocks, parseShard } from '../../harness/run/shard.ts';
import { seededRandom } from '../../harness/stats/random.ts';
import type { IterationRecord, RunManifest } from '../../harness/results/types.ts';
import type { NightlyVerdict } from '../../harness/nightly/compare.ts';
import { parseJson, readJson } from '../helpers/json.ts';
import { readArgvLog } from '../../harness/results/argv-log.ts';

const BIN = new URL('../../bin/vdpa-bench.js', import.meta.url).pathname;

test('Mann–Whitney: exact small-sample p-values and the normal approximation agree with known values', (t) => {
  // every a above every b: U = 9, P(U ≥ 9) = 1 / C(6,3) = 0.05
  const r = mannWhitney([4, 5, 6], [1, 2, 3], 'greater');
  t.is(r.method, 'exact');
  t.is(r.uFirst, 9);
  t.is(r.p, 0.05);
  // one-sided, the most extreme arrangement is the only one as extreme: p is the smallest possible
  t.is(r.minimumP, 0.05);
  t.is(mannWhitney([1, 2, 3], [4, 5, 6], 'less').minimumP, 0.05);
  t.is(mannWhitney([4, 5, 6], [1, 2, 3], 'less').p, 1);
  t.is(mannWhitney([4, 5, 6], [1, 2, 3]).p, 0.1);
  // ties keep an exact p (mid-ranks): checked against brute-force enumeration of all C(11,5) splits
  const a = [1, 2, 3, 4, 5];
  const b = [3, 4, 5, 6, 7, 8];
  const tied = mannWhitney(a, b, 'less');
  t.is(tied.method, 'exact (mid-ranks, ties)');
  t.is(tied.uFirst, 4.5);
  const pooled = [...a, ...b];
  const uOf = (xs: number[], ys: number[]) => xs.reduce((s, x) => s + ys.reduce((q, y) => q + (x > y ? 1 : x === y ? 0.5 : 0), 0), 0);
  let atMost = 0;
  let all = 0;
  const choose = (start: number, picked: number[]) => {
    if (picked.length === a.length) {
      all++;
      const rest = pooled.filter((_, i) => !picked.includes(i));
      if (
        uOf(
          picked.map((i) => pooled[i]),
          rest,
        ) <= 4.5
      )
        atMost++;
      return;
    }
    for (let i = start; i < pooled.length; i++) choose(i + 1, [...picked, i]);
  };
  choose(0, []);
  t.true(Math.abs(tied.p - atMost / all) < 1e-12, `${tied.p} vs ${atMost}/${all}`);
  // large samples: the normal approximation, one-sided
  const big = mannWhitney(
    Array.from({ length: 60 }, (_, i) => i + 10),
    Array.from({ length: 60 }, (_, i) => i),
    'greater',
  );
  t.is(big.method, 'normal approximation');
  t.true(big.p < 0.01 && big.p > 0);
  // exact, no ties, m=n=5: U = 3 (5>4, 7>4, 7>6); P(U ≤ 3) = (1+1+2+3)/252
  t.is(mannWhitney([1, 2, 3, 5, 7], [4, 6, 8, 9, 10], 'less').p, 7 / 252);
  t.throws(() => mannWhitney([], [1], 'greater'), { message: /non-empty/ });
});

test('change points: a lasting step is found where it starts; one noisy night is not', (t) => {
  const rand = seededRandom(7);
  const night = (level: number) => Array.from({ length: 5 }, () => level * (1 + (rand() - 0.5) * 0.04));
  const opts = { minSegment: 3, alpha: 0.01, noisePct: 5 };
  const step = [...Array.from({ length: 6 }, () => night(50)), ...Array.from({ length: 5 }, () => night(60))];
  const found = detectChangePoints(step, opts);
  t.is(found.length, 1);
  t.is(found[0].index, 6);
  t.true(found[0].changePct > 15 && found[0].changePct < 25);
  const spike = Array.from({ length: 11 }, (_, i) => night(i === 5 ? 80 : 50));
  t.deepEqual(detectChangePoints(spike, opts), []);
  t.is(median([3, 1, 2]), 2);
});

test('shards are a partition of the schedule by whole blocks', (t) => {
  const blocks = buildSchedule({
    vmSizes: ['1G', '2G'],
    queuePairs: [null],
    variants: ['a', 'b', 'c'],
    iterations: 4,
    warmup: 1,
    order: 'randomized',
    blockSize: 2,
    seed: 3,
  });
  const parts = [1, 2, 3].map((i) => shardBlocks(blocks, parseShard(`${i}/3`)));
  t.deepEqual(
    parts
      .flat()
      .map((b) => b.index)
      .sort((x, y) => x - y),
    blocks.map((b) => b.index),
  );
  t.deepEqual(shardBlocks(blocks, parseShard('2/3')), parts[1], 'deterministic');
  t.throws(() => parseShard('4/3'), { message: /between 1 and n/ });
  t.throws(() => parseShard('1-3'), { message: /expected i\/n/ });
});

// ---- seeded history -------------------------------------------------------------------

interface NightSpec {
  day: number;
  levels: Record<string, number>;
  kernel?: string;
  seed: number;
  state?: RunManifest['state'];
}

const PROFILE_TEXT = `name: seeded
hosts:
  - { name: hostA, transport: { kind: local }, workdir: /nonexistent-vdpa-bench-seeded }
  - { name: hostB, transport: { kind: local }, workdir: /nonexistent-vdpa-bench-seeded }
variants:
  - name: precopy
  - name: pause
    capabilities: { pause-before-switchover: true }
vm: { accel: auto, memory: { backend: ram }, guest: { kind: firmware }, nic: { kind: none } }
design: { order: sequential }
migration: { timeout: 60s }
matrix: { vmSizes: [1G] }
iterations: 6
warmup: 1
trace: { events: [runstate_set] }
metrics: { primary: runstate }
compare: { noiseThresholdPct: 5 }
`;

async function writeNight(historyDir: string, spec: NightSpec): Promise<string> {
  const startedAt = new Date(Date.UTC(2026, 10, 1 + spec.day, 1, 0, 0)).toISOString();
  const runId = `seeded-202611${String(1 + spec.day).padStart(2, '0')}-010000-${spec.seed.toString(16).padStart(4, '0')}`;
  const dir = join(historyDir, runId);
  await mkdir(join(dir, 'traces'), { recursive: true });
  const host = (name: string) => ({
    name,
    transport: 'local',
    kernel: spec.kernel ?? '6.1.0-28-amd64',
    cpuModel: 'AMD EPYC 7313',
    cpus: 32,
    memTotalKiB: 263_000_000,
    kvm: { usable: true, reason: '/dev/kvm is readable and writable' },
  });
  const variant = (name: string, capabilities: Record<string, boolean>) => ({
    name,
    binary: 'qemu-system-x86_64',
    qemuVersion: { hostA: 'QEMU emulator version 9.2.0', hostB: 'QEMU emulator version 9.2.0' },
    capabilities,
    parameters: {},
    extraArgs: [],
  });
  const manifest: RunManifest = {
    runId,
    tool: { name: 'vdpa-bench', version: '0.1.0', gitCommit: null },
    profile: { path: 'seeded.yaml', name: 'seeded', sha256: 'f'.repeat(64), text: PROFILE_TEXT },
    startedAt,
    finishedAt: new Date(Date.parse(startedAt) + 600_000).toISOString(),
    state: spec.state ?? 'completed',
    command: ['vdpa-bench', 'run', 'seeded.yaml'],
    options: { iterations: 6, warmup: 1, vmSizes: ['1G'], variants: ['precopy', 'pause'], queuePairs: [null], design: 'sequential', seed: 1 },
    accel: { requested: 'auto', used: 'kvm', reason: 'auto: /dev/kvm usable on every host' },
    hosts: [host('hostA'), host('hostB')],
    variants: [variant('precopy', {}), variant('pause', { 'pause-before-switchover': true })],
    metrics: { primary: 'runstate', names: ['runstate'] },
    pair: ['hostA', 'hostB'],
    schedule: { blocks: 2, migrations: 14 },
    abandonedCells: [],
  };
  const rand = seededRandom(spec.seed);
  const lines: string[] = [];
  let seq = 0;
  for (const [variantName, level] of Object.entries(spec.levels)) {
    for (let i = 0; i < 7; i++) {
      const warmup = i === 0;
      const downtime = Math.round(level * (1 + (rand() - 0.5) * 0.1) * 1000) / 1000; // ±5% noise
      seq++;
      const record: IterationRecord = {
        seq,
        block: variantName === 'precopy' ? 1 : 2,
        variant: variantName,
        vmSize: '1G',
        queuePairs: null,
        iteration: warmup ? 1 : i,
        warmup,
        from: i % 2 ? 'hostB' : 'hostA',
        to: i % 2 ? 'hostA' : 'hostB',
        status: 'ok',
        downtimeMs: downtime,
        primaryMetric: 'runstate',
        metrics: { runstate: downtime },
        qmp: { downtimeMs: Math.round(downtime * 0.8), totalTimeMs: 1200, setupTimeMs: 4 },
        traces: {
          source: `traces/${String(seq).padStart(4, '0')}-${variantName}-1G-src-hostA.log`,
          destination: `traces/${String(seq).padStart(4, '0')}-${variantName}-1G-dst-hostB.log`,
        },
        clock: { offsetUs: 0, uncertaintyUs: 0, method: 'same-machine' },
        accel: 'kvm',
        destinationQmpReadyMs: 40,
        cycleMs: 2500,
        startedAt,
        finishedAt: startedAt,
      };
      lines.push(JSON.stringify(record));
    }
  }
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  await writeFile(join(dir, 'iterations.ndjson'), lines.join('\n') + '\n');
  return dir;
}

async function seededHistory(t: import('ava').ExecutionContext) {
  const root = await mkdtemp(join(tmpdir(), 'vdpa-bench-nightly-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const history = join(root, 'history');
  for (let day = 0; day < 8; day++) await writeNight(history, { day, levels: { precopy: 50, pause: 80 }, seed: 100 + day });
  const profile = join(root, 'seeded.yaml');
  await writeFile(profile, PROFILE_TEXT);
  return { root, history, profile };
}

async function nightly(profile: string, history: string, runDir: string, ...extra: string[]) {
  return execa('node', [BIN, 'nightly', profile, '--history', history, '--from-run', runDir, ...extra], { reject: false });
}

test('nightly against a seeded history: quiet on a clean night', async (t) => {
  const { history, profile } = await seededHistory(t);
  const tonight = await writeNight(history, { day: 8, levels: { precopy: 50, pause: 80 }, seed: 999 });
  const result = await nightly(profile, history, tonight);
  t.log(result.stderr);
  t.is(result.exitCode, 0);
  const verdict = await readJson<NightlyVerdict>(join(tonight, 'nightly.json'));
  t.deepEqual(
    verdict.cells.map((c: { verdict: string }) => c.verdict),
    ['ok', 'ok'],
  );
  t.is(verdict.cells[0].baseline.nights.length, 7, 'the trailing window, not just last night');
  t.deepEqual(
    verdict.cells.flatMap((c: { changePoints: unknown[] }) => c.changePoints),
    [],
  );
  const junit = await readFile(join(tonight, 'nightly-junit.xml'), 'utf8');
  t.regex(junit, /<testsuites name="vdpa-bench" tests="2" failures="0" errors="0" skipped="0">/);
});

test('nightly against a seeded history: an injected regression fails its cell only (exit 1, JUnit failure, report marks it)', async (t) => {
  const { history, profile } = await seededHistory(t);
  const tonight = await writeNight(history, { day: 8, levels: { precopy: 50, pause: 80 * 1.2 }, seed: 999 });
  const result = await nightly(profile, history, tonight, '--junit', join(history, '..', 'junit.xml'));
  t.log(result.stderr);
  t.is(result.exitCode, 1);
  const verdict = await readJson<NightlyVerdict>(join(tonight, 'nightly.json'));
  const [precopy, pause] = verdict.cells;
  t.is(precopy.verdict, 'ok');
  t.is(pause.verdict, 'regression');
  t.true(pause.changePct !== null && pause.changePct > 10 && pause.changePct < 30, String(pause.changePct));
  t.true(pause.pValue !== null && pause.pValue < 0.01);
  const junit = await readFile(join(history, '..', 'junit.xml'), 'utf8');
  t.regex(junit, /<testcase classname="vdpa-bench nightly seeded" name="pause 1G">\s*<failure type="regression" message="median/);
  const html = await readFile(join(tonight, 'history.html'), 'utf8');
  t.regex(html, /<svg[^>]*>.*tonight: regression/s);
  t.is((html.match(/<svg/g) ?? []).length, 2, 'one chart per cell');
  // Tonight's run's own warnings travel with the verdict: its variants ran one block each.
  t.regex(html, /Tonight's run: warnings.*Variants were not counterbalanced in run order for 1G.*precopy×6 → pause×6/s);
});

test('nightly: a regression below the noise threshold is not one; a fingerprint change is reported, not compared', async (t) => {
  const { history, profile } = await seededHistory(t);
  const small = await writeNight(history, { day: 8, levels: { precopy: 50 * 1.03, pause: 80 }, seed: 999 });
  const quiet = await nightly(profile, history, small);
  t.is(quiet.exitCode, 0);
  const verdict = await readJson<NightlyVerdict>(join(small, 'nightly.json'));
  t.is(verdict.cells[0].verdict, 'ok');

  const newKernel = await writeNight(history, { day: 9, levels: { precopy: 90, pause: 140 }, seed: 1000, kernel: '6.12.0-1-amd64' });
  const changed = await nightly(profile, history, newKernel);
  t.log(changed.stderr);
  t.is(changed.exitCode, 0);
  t.regex(changed.stderr, /lab fingerprint changed since seeded-\S+/);
  t.regex(changed.stderr, /hostA kernel: 6\.1\.0-28-amd64 → 6\.12\.0-1-amd64/);
  const v2 = await readJson<NightlyVerdict>(join(newKernel, 'nightly.json'));
  t.deepEqual(
    v2.cells.map((c: { verdict: string }) => c.verdict),
    ['no-baseline', 'no-baseline'],
  );
  t.regex(v2.cells[0].reason, /fingerprint changed/);

  const listing = await execa('node', [BIN, 'history', history], { reject: false });
  t.is(listing.exitCode, 0);
  t.is(listing.stdout.split('\n').filter((l) => l.includes(' completed ')).length, 10);
  t.regex(listing.stdout, /lab changed: hostB kernel: 6\.1\.0-28-amd64 → 6\.12\.0-1-amd64/);
});

test('nightly: a lasting step across nights is flagged as a change point', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'vdpa-bench-nightly-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const history = join(root, 'history');
  for (let day = 0; day < 10; day++) await writeNight(history, { day, levels: { precopy: day < 5 ? 50 : 60, pause: 80 }, seed: 300 + day });
  const tonight = await writeNight(history, { day: 10, levels: { precopy: 60, pause: 80 }, seed: 400 });
  await writeFile(join(root, 'seeded.yaml'), PROFILE_TEXT);
  const result = await nightly(join(root, 'seeded.yaml'), history, tonight);
  t.is(result.exitCode, 0, 'tonight matches the last week: no regression tonight');
  const verdict = await readJson<NightlyVerdict>(join(tonight, 'nightly.json'));
  const [precopy, pause] = verdict.cells;
  t.is(precopy.changePoints.length, 1);
  t.is(precopy.changePoints[0].runId.slice(0, 22), 'seeded-20261106-010000');
  t.deepEqual(pause.changePoints, []);
  t.regex(result.stderr, /change point at seeded-20261106/);
});

test('merge: shard run directories become one run in schedule order; overlapping or missing shards are refused', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'vdpa-bench-merge-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const a = await writeNight(join(root, 'a'), { day: 0, levels: { precopy: 50 }, seed: 1 });
  const b = await writeNight(join(root, 'b'), { day: 0, levels: { pause: 80 }, seed: 2 });
  // shard b's records carry the seqs the full schedule gives them
  const fix = async (dir: string, shard: string, seqOffset: number) => {
    const m = (await readJson<RunManifest>(join(dir, 'manifest.json'))) as RunManifest;
    m.options.shard = shard;
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(m));
    const text = await readFile(join(dir, 'iterations.ndjson'), 'utf8');
    await writeFile(
      join(dir, 'iterations.ndjson'),
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const r = parseJson<IterationRecord>(l);
          r.seq += seqOffset;
          return JSON.stringify(r);
        })
        .join('\n') + '\n',
    );
    for (const l of text.split('\n').filter(Boolean)) {
      const r = JSON.parse(l) as IterationRecord;
      await writeFile(join(dir, r.traces.source.replace(/^traces\/\d+/, `traces/${String(r.seq + seqOffset).padStart(4, '0')}`)), 'x\n');
    }
  };
  await fix(a, '1/2', 0);
  await fix(b, '2/2', 7);
  // each shard's started processes, as its run wrote them
  for (const [dir, what] of [
    [a, 'a'],
    [b, 'b'],
  ]) {
    const entry = {
      schema: 'vdpa-bench/argv@1',
      seq: 1,
      host: 'hostA',
      transport: 'local',
      via: 'run',
      role: 'run',
      argv: ['true', what],
      shown: `true ${what}`,
      startedAt: '2026-01-01T00:00:00Z',
    };
    await writeFile(join(dir, 'argv.ndjson'), JSON.stringify(entry) + '\n');
  }
  const merged = await execa('node', [BIN, 'merge', a, b, '--out', join(root, 'merged')], { reject: false });
  t.is(merged.exitCode, 0, merged.stderr);
  const dir = merged.stdout.trim();
  t.deepEqual(
    (await readArgvLog(dir)).map((e) => [e.seq, e.argv.join(' ')]),
    [
      [1, 'true a'],
      [2, 'true b'],
    ],
    "both shards' started processes, numbered anew",
  );
  const records = (await readFile(join(dir, 'iterations.ndjson'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => parseJson<IterationRecord>(l));
  t.deepEqual(
    records.map((r) => r.seq),
    Array.from({ length: 14 }, (_, i) => i + 1),
  );
  const manifest = await readJson<RunManifest>(join(dir, 'manifest.json'));
  t.is(manifest.state, 'completed');
  t.is(manifest.options.shard, undefined);
  t.deepEqual(
    manifest.mergedFrom?.map((s) => s.shard),
    ['1/2', '2/2'],
  );
  const missing = await execa('node', [BIN, 'merge', a, '--out', join(root, 'merged2')], { reject: false });
  t.is(missing.exitCode, 2);
  t.regex(missing.stderr, /shard 2\/2 missing/);
  const twice = await execa('node', [BIN, 'merge', a, a, '--out', join(root, 'merged3')], { reject: false });
  t.regex(twice.stderr, /given twice/);
});

test('nightly exits 2 when the run cannot be made (the lab is busy) and says why', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'vdpa-bench-busy-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const workdir = join(root, 'work');
  await mkdir(workdir);
  // a live holder: this test process
  await writeFile(
    join(workdir, 'vdpa-bench.lock'),
    JSON.stringify({
      runId: 'other-run',
      user: 'someone',
      pid: process.pid,
      controller: (await import('node:os')).hostname(),
      startedAt: new Date().toISOString(),
    }) + '\n',
  );
  const profile = join(root, 'busy.yaml');
  await writeFile(profile, PROFILE_TEXT.replaceAll('/nonexistent-vdpa-bench-seeded', workdir).replace('name: seeded', 'name: busy'));
  const result = await execa('node', [BIN, 'nightly', profile, '--history', join(root, 'history')], { reject: false });
  t.log(result.stderr);
  t.is(result.exitCode, 2);
  t.regex(result.stderr, /the lab is busy: run other-run by someone, pid \d+/);
  t.regex(await readFile(join(workdir, 'vdpa-bench.lock'), 'utf8'), /other-run/, 'the live lock is untouched');
});
