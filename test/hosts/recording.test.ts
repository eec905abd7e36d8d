import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { recordingTransport, type StartedCommand } from '../../harness/hosts/recording.ts';
import { ARGV_FILE, readArgvLog } from '../../harness/results/argv-log.ts';
import { RunStore } from '../../harness/results/store.ts';

test('a recording transport tells every start once, with its argv, how the transport runs it and its stdin by hash', async (t) => {
  const told: StartedCommand[] = [];
  const host = recordingTransport(new LocalTransport('hostA'), (c) => told.push(c));
  t.is(host.hostName, 'hostA');
  t.is(host.kind, 'local');
  await host.run(['true']);
  // LocalTransport runs a script as a command itself: told once, as the script
  await host.script('exit 0\n', ['one two']);
  const child = await host.start(['sleep', '0'], { role: 'qemu' });
  await child.exited;
  t.deepEqual(
    told.map((c) => [c.via, c.role, c.argv, c.shown]),
    [
      ['run', 'run', ['true'], 'true'],
      ['script', 'script', ['bash', '-s', '--', 'one two'], "bash -s -- 'one two'"],
      ['start', 'qemu', ['sleep', '0'], 'sleep 0'],
    ],
  );
  t.deepEqual(told[1].stdin, { bytes: 7, sha256: createHash('sha256').update('exit 0\n').digest('hex') });
  t.is(told[0].stdin, undefined);
  t.false(Number.isNaN(Date.parse(told[0].startedAt)));
});

test('the run store writes argv.ndjson in order, keeps taking entries after close, and a resumed store goes on counting', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vb-argv-'));
  try {
    const entry = (argv: string[]): StartedCommand => ({
      host: 'h',
      transport: 'local',
      via: 'run',
      role: 'run',
      argv,
      shown: argv.join(' '),
      startedAt: new Date().toISOString(),
    });
    const store = await RunStore.create(dir, 'run-1');
    store.recordStarted(entry(['a']));
    store.recordStarted(entry(['b']));
    await store.close();
    // the session's teardown runs after the engine closed the store
    store.recordStarted(entry(['c']));
    await store.close();
    const again = await RunStore.open(join(dir, 'run-1'));
    again.recordStarted(entry(['d']));
    await again.close();
    const log = await readArgvLog(join(dir, 'run-1'));
    t.deepEqual(
      log.map((e) => [e.seq, e.argv[0]]),
      [
        [1, 'a'],
        [2, 'b'],
        [3, 'c'],
        [4, 'd'],
      ],
    );
    t.regex(await readFile(join(dir, 'run-1', ARGV_FILE), 'utf8'), /^\{"schema":"vdpa-bench\/argv@1","seq":1,"host":"h"/);
    t.deepEqual(await readArgvLog(dir), [], 'a run recorded before argv.ndjson existed lists nothing');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
