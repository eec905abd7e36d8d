/**
 * ssh transport latency against a throw-away local sshd (testbed/sshd.ts, shared with the tests): a command with and
 * without the multiplexed master, a QMP-sized unix socket round trip through the forward, and the
 * clock estimate between two transports to this machine.
 * Run: npx tsx bench/ssh-latency.ts [commands=30]
 */
import { execa } from 'execa';
import { createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exchangeClock } from '../harness/hosts/clock.ts';
import { SshTransport } from '../harness/hosts/ssh.ts';
import { quantileSorted, sorted } from '../harness/stats/describe.ts';
import { startSshd } from '../testbed/sshd.ts';

const count = Number(process.argv[2] ?? 30);

function summary(label: string, ms: number[]): void {
  const ascending = sorted(ms);
  const at = (p: number) => quantileSorted(ascending, p).toFixed(1);
  console.log(`${label.padEnd(48)} median ${at(0.5)} ms  p10 ${at(0.1)}  p90 ${at(0.9)}  (n=${ms.length})`);
}

async function timed(n: number, f: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await f();
    out.push(performance.now() - start);
  }
  return out;
}

const sshd = await startSshd();
const scratch = await mkdtemp(join(tmpdir(), 'vb-bench-'));
try {
  const c = sshd.config;
  // what spawning any process costs on this machine right now (its load shows here)
  summary('baseline: local `bash -c true` via execa', await timed(count, () => execa('bash', ['-c', 'true'])));
  summary('baseline: local `ssh -V` via execa', await timed(count, () => execa('ssh', ['-V'])));
  const plain = [
    '-o',
    'BatchMode=yes',
    '-o',
    'ControlMaster=no',
    '-o',
    'ControlPath=none',
    '-o',
    `UserKnownHostsFile=${c.knownHostsFile}`,
    '-i',
    c.identityFile!,
    '-o',
    'IdentitiesOnly=yes',
    '-p',
    String(c.port),
    '-l',
    'root',
    '--',
    c.host,
    'true',
  ];
  summary('`true`, new connection each time (no master)', await timed(count, () => execa('ssh', plain)));

  const ssh = new SshTransport('bench', c);
  await ssh.run(['true']);
  summary('`true` through the ControlMaster', await timed(count, () => ssh.run(['true'])));
  summary('script on stdin to bash -s (master)', await timed(count, () => ssh.script('echo "$1"', ['x'])));
  summary('readFile /proc/self/status (master)', await timed(count, () => ssh.readFile('/proc/self/status')));

  const socketPath = join(scratch, 'echo.sock');
  const server = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(socketPath, () => r()));
  summary('connectUnixSocket (probe + forward + connect)', await timed(Math.min(count, 15), async () => (await ssh.connectUnixSocket(socketPath)).destroy()));
  const socket = await ssh.connectUnixSocket(socketPath);
  summary(
    'unix socket round trip over the forward',
    await timed(
      count * 3,
      () =>
        new Promise((r) => {
          socket.once('data', r);
          socket.write('{"execute":"query-status"}\n');
        }),
    ),
  );
  socket.destroy();
  server.close();

  const other = new SshTransport('bench2', c);
  const estimates = [];
  for (let i = 0; i < 10; i++) estimates.push(await exchangeClock(8).estimate(ssh, other));
  summary('clock estimate (2 hosts x 8 samples)', await timed(10, () => exchangeClock(8).estimate(ssh, other)));
  console.log(`clock offset on loopback (10 estimates): ${estimates.map((e) => `${e.offsetUs}±${e.uncertaintyUs}`).join(' ')} µs`);
  console.log(`winning round trips: ${estimates.map((e) => `${e.roundTripUs?.from}/${e.roundTripUs?.to}`).join(' ')} µs`);
  await other.close();
  await ssh.close();
} finally {
  await rm(scratch, { recursive: true, force: true });
  await sshd.stop();
}
