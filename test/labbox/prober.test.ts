import test from 'ava';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { RunningProbe } from '../../harness/labbox/prober.ts';

// A stand-in for the ICMP prober with its exit behaviour: it writes the log's header and one
// probe line when SIGTERM arrives, then exits 0, as icmp-prober.c does.
const PROBER = `#!/bin/bash
trap 'echo "# rate=1000 target=10.0.0.2 sent=1 late=0 realtime=0"; echo "0 1000000 2000000"; exit 0' TERM
while :; do sleep 0.05; done
`;

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('stopping a probe leaves no timer behind: the command can exit as soon as its work is done', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'prober-'));
  const binary = join(dir, 'prober');
  await writeFile(binary, PROBER);
  await chmod(binary, 0o755);
  const host = new LocalTransport('local');
  const probe = await RunningProbe.start(host, { binary, target: '10.0.0.2', rateHz: 1000, replyTimeoutMs: 50 }, join(dir, 'probe.txt'));
  const before = timers();
  const log = await probe.stop();
  t.is(log.probes.length, 1);
  t.is(log.rateHz, 1000);
  t.true(timers() <= before, `active timers after stop: ${timers()}, before: ${before}`);
});
