/**
 * The local lab driven through the ssh transport against a real sshd: QEMU launches, QMP,
 * trace rotation, file transfer and clock probes all go over OpenSSH to 127.0.0.1.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { loadProfile } from '../../harness/profile/load.ts';
import { runBenchmark } from '../../harness/run/run.ts';
import type { IterationRecord } from '../../harness/results/types.ts';
import { startSshd, type TestSshd } from '../../testbed/sshd.ts';
import { requires } from '../helpers/requires.ts';

const test = requires('root', 'sshd', 'qemu');

const PROFILE = new URL('../../profiles/local-ssh.yaml', import.meta.url).pathname;

let sshd: TestSshd;
let scratch: string;

test.before(async () => {
  sshd = await startSshd();
  scratch = await mkdtemp(join(tmpdir(), 'vb-lssh-'));
});

test.after.always(async () => {
  await sshd?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** local-ssh.yaml pointed at the test sshd, with a host workdir whose name needs quoting. */
async function testProfile(): Promise<string> {
  const doc = parseDocument(await readFile(PROFILE, 'utf8'));
  for (const index of [0, 1]) {
    doc.setIn(['hosts', index, 'transport', 'port'], sshd.port);
    doc.setIn(['hosts', index, 'transport', 'identityFile'], sshd.identityFile);
    doc.setIn(['hosts', index, 'transport', 'knownHostsFile'], sshd.knownHostsFile);
    doc.setIn(['hosts', index, 'transport', 'strictHostKeyChecking'], 'yes');
    // shell-hostile but free of spaces: HMP `logfile` (trace rotation) splits its argument at spaces
    doc.setIn(['hosts', index, 'workdir'], join(scratch, "w'd$(x)"));
  }
  const file = join(scratch, 'local-ssh-test.yaml');
  await writeFile(file, doc.toString());
  return file;
}

/** The last `runstate_set` line matching `pattern` inside the window, read straight from the QEMU 7.2 log text. */
function lastRunstate(text: string, pattern: RegExp, window: { fromUs?: number; toUs?: number } | undefined): number | undefined {
  let found: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^\d+@(\d+)\.(\d{6}):runstate_set (.*)$/.exec(line);
    if (!m || !pattern.test(m[3])) continue;
    const us = Number(m[1]) * 1e6 + Number(m[2]);
    if ((window?.fromUs !== undefined && us < window.fromUs) || (window?.toUs !== undefined && us > window.toUs)) continue;
    found = us;
  }
  return found;
}

test('a local-lab run through ssh: every downtime matches its raw traces, clocks measured ~0 apart', async (t) => {
  const loaded = await loadProfile(await testProfile());
  const notes: string[] = [];
  const outcome = await runBenchmark(loaded, {
    iterations: 2,
    warmup: 0,
    vmSizes: ['256M'],
    variants: ['precopy'],
    outDir: join(scratch, 'results'),
    progress: { blockStarted() {}, migrationDone() {}, note: (m) => notes.push(m) },
  });
  t.is(outcome.manifest.state, 'completed', outcome.manifest.stateReason);
  t.deepEqual(
    outcome.manifest.hosts.map((h) => h.transport),
    ['ssh', 'ssh'],
  );
  for (const host of outcome.manifest.hosts) t.truthy((host.timeSync as { summary?: string } | undefined)?.summary, 'time sync facts recorded');
  t.is(outcome.records.length, 2);
  const stored = (await readFile(join(outcome.dir, 'iterations.ndjson'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as IterationRecord);
  t.deepEqual(
    stored.map((r) => r.seq),
    outcome.records.map((r) => r.seq),
  );

  for (const record of stored) {
    t.is(record.status, 'ok', record.reason);
    t.deepEqual([record.from, record.to].sort(), ['hostA', 'hostB']);
    // the clock: measured before and after, both hosts are this machine
    t.is(record.clock!.method, 'ntp-exchange');
    t.truthy(record.clock!.before && record.clock!.after);
    t.true(record.clock!.uncertaintyUs > 0);
    t.true(Math.abs(record.clock!.offsetUs) <= record.clock!.uncertaintyUs, JSON.stringify(record.clock));
    t.log(`seq ${record.seq}: downtime ${record.downtimeMs} ms, clock ${record.clock!.offsetUs} ± ${record.clock!.uncertaintyUs} µs`);

    const source = await readFile(join(outcome.dir, record.traces.source), 'utf8');
    const destination = await readFile(join(outcome.dir, record.traces.destination), 'utf8');
    const start = lastRunstate(source, /new_state \d+ \(finish-migrate\)/, record.windows?.source);
    const end = lastRunstate(destination, /\(inmigrate\) new_state \d+ \(running\)/, record.windows?.destination);
    if (start === undefined || end === undefined) return t.fail(`seq ${record.seq}: runstate events missing from the fetched traces`);
    const expectedMs = (end - record.clock!.offsetUs - start) / 1000;
    t.is(record.metrics.runstate, expectedMs);
    t.is(record.downtimeMs, expectedMs);
    t.true(expectedMs > 0);
  }
});
