/**
 * The ssh transport against a real sshd on 127.0.0.1 (testbed/sshd.ts). The "remote" host
 * is this machine, so what arrived can be checked directly on the local filesystem and /proc.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLOCK_RESPONDER, exchangeClock } from '../../harness/hosts/clock.ts';
import { persistentResponder } from '../../harness/hosts/line-responder.ts';
import { SshTransport } from '../../harness/hosts/ssh.ts';
import { SshConnectionError } from '../../harness/hosts/ssh-process.ts';
import { shellJoin } from '../../harness/hosts/transport.ts';
import { startSshd, type TestSshd } from '../../testbed/sshd.ts';
import { requires } from '../helpers/requires.ts';

const test = requires('root', 'sshd');

let sshd: TestSshd;
let ssh: SshTransport;
let scratch: string;
const marker = `vb-pwned-${randomBytes(4).toString('hex')}`;

/** Each would run a command, end a word or start a new line if the remote shell parsed it. */
const HOSTILE = [
  'a;b',
  `$(touch /tmp/${marker}-1)`,
  `\`touch /tmp/${marker}-2\``,
  "it's",
  '"double"',
  'line one\nline two',
  '  spaced  out  ',
  '\ttab',
  '',
  '-n',
  '*',
  '$HOME ${PATH}',
  '\\back\\slash',
  'a|b&c>d<e',
  `'; touch /tmp/${marker}-3; '`,
  'ünïcødé ✓',
];

test.before(async () => {
  sshd = await startSshd();
  ssh = new SshTransport('sshhost', sshd.config);
  scratch = await mkdtemp(join(tmpdir(), 'vb-ssh-test-'));
});

test.after.always(async () => {
  await ssh?.close();
  await sshd?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
  for (const n of [1, 2, 3, 4, 5]) await rm(`/tmp/${marker}-${n}`, { force: true });
});

function noInjection(t: { false(v: boolean, m?: string): void }) {
  for (const n of [1, 2, 3, 4, 5]) t.false(existsSync(`/tmp/${marker}-${n}`), `an injected command ran (${marker}-${n})`);
}

test.serial('argv arrives byte for byte, and nothing in it runs', async (t) => {
  const result = await ssh.run(['printf', '%s\\0', ...HOSTILE]);
  t.deepEqual(result.stdout.split('\0').slice(0, -1), HOSTILE);
  noInjection(t);
});

test.serial('script arguments arrive byte for byte', async (t) => {
  const result = await ssh.script('printf "%s\\0" "$@"', HOSTILE);
  t.deepEqual(result.stdout.split('\0').slice(0, -1), HOSTILE);
  noInjection(t);
});

test.serial('environment values are data too; bad names are refused', async (t) => {
  const result = await ssh.run(['printenv', 'VB_TEST'], { env: { VB_TEST: HOSTILE[1] + HOSTILE[5] } });
  t.is(result.stdout, `${HOSTILE[1]}${HOSTILE[5]}\n`);
  await t.throwsAsync(ssh.run(['true'], { env: { 'A;B': 'x' } }), { message: /invalid environment variable name/ });
  noInjection(t);
});

test.serial('exit codes come back; failures throw unless allowed', async (t) => {
  t.is((await ssh.run(['sh', '-c', 'exit 7'], { allowFailure: true })).exitCode, 7);
  await t.throwsAsync(ssh.run(['sh', '-c', 'echo nope >&2; exit 3']), { message: /exited with 3:\n {2}nope/ });
  // a remote 255 is the command's answer, not a lost connection
  t.is((await ssh.run(['sh', '-c', 'exit 255'], { allowFailure: true })).exitCode, 255);
});

test.serial('files with hostile names come back intact (readFile, fetchFile)', async (t) => {
  const dir = join(scratch, "dir $(x) `y` ; it's\nnew line");
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'trace "file".log');
  const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(300_000)]);
  await writeFile(path, bytes);
  t.true((await ssh.readFile(path)).equals(bytes));
  const local = join(scratch, 'fetched', 'copy.log');
  await ssh.fetchFile(path, local);
  t.true((await readFile(local)).equals(bytes));
  await t.throwsAsync(ssh.readFile(join(dir, 'missing')), { message: /No such file/ });
  await t.throwsAsync(ssh.fetchFile(join(dir, 'missing'), join(scratch, 'fetched', 'none')), { message: /No such file/ });
  t.false(existsSync(join(scratch, 'fetched', 'none')));
});

test.serial('start: the remote pid is the process, kill signals it, exited reports how it ended', async (t) => {
  const out = join(scratch, 'out $(z)', "std'out.log");
  const token = `vb-sleep-${randomBytes(3).toString('hex')}`;
  const process = await ssh.start(['bash', '-c', `echo started; exec -a ${token} sleep 60`], { stdoutFile: out, stderrFile: out });
  // bash execs sleep under the token's name: same pid, new command line
  t.true(
    await eventually(async () => (await readFile(`/proc/${process.pid}/cmdline`, 'utf8')).split('\0')[0] === token),
    'pid names the remote process itself',
  );
  t.true(process.alive);
  await process.kill('SIGTERM');
  t.deepEqual(await process.exited, { code: null, signal: 'SIGTERM' });
  t.false(process.alive);
  t.is(await readFile(out, 'utf8'), 'started\n');

  const quick = await ssh.start(['sh', '-c', 'exit 3']);
  t.deepEqual(await quick.exited, { code: 3, signal: null });
  const missing = await ssh.start(['/nonexistent/qemu']);
  t.deepEqual(await missing.exited, { code: 127, signal: null });
});

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function echoServer(path: string): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((c) => c.pipe(c));
    server.listen(path, () => resolve(server));
  });
}

test.serial('unix sockets on the host are reached through the master, even with hostile paths', async (t) => {
  for (const name of ['plain.sock', 'q m:p [x] %d.sock']) {
    const path = join(scratch, name);
    const server = await echoServer(path);
    try {
      const socket = await ssh.connectUnixSocket(path);
      const reply = await new Promise<string>((resolve) => {
        socket.once('data', (d: Buffer) => resolve(d.toString()));
        socket.write('{"execute": "qmp_capabilities"}\n');
      });
      t.is(reply, '{"execute": "qmp_capabilities"}\n', name);
      socket.destroy();
    } finally {
      server.close();
    }
  }
  const error = await t.throwsAsync(ssh.connectUnixSocket(join(scratch, 'nobody-listens.sock')));
  t.is((error as NodeJS.ErrnoException).code, 'ENOENT');
  // cancelled forwards leave no sockets behind in the private directory
  const forwards = async () => (await readdir(ssh.privateDirectory!)).filter((f) => f.startsWith('fwd'));
  await eventually(async () => (await forwards()).length === 0);
  t.deepEqual(await forwards(), []);
});

test.serial('commands share one authenticated connection', async (t) => {
  const before = (sshd.log().match(/Accepted publickey/g) ?? []).length;
  for (let i = 0; i < 5; i++) await ssh.run(['true']);
  await ssh.readFile('/proc/self/stat');
  const after = (sshd.log().match(/Accepted publickey/g) ?? []).length;
  t.is(after - before, 0);
});

test.serial('two transports to this machine measure a clock offset of ~0 within its uncertainty', async (t) => {
  const other = new SshTransport('sshhost2', sshd.config);
  try {
    const estimate = await exchangeClock(8).estimate(ssh, other);
    t.log(`offset ${estimate.offsetUs} µs ± ${estimate.uncertaintyUs} µs, winning round trips ${JSON.stringify(estimate.roundTripUs)}`);
    t.is(estimate.method, 'ntp-exchange');
    t.true(estimate.uncertaintyUs > 0);
    t.true(Math.abs(estimate.offsetUs) <= estimate.uncertaintyUs, JSON.stringify(estimate));
  } finally {
    await other.close();
  }
});

test.serial('a persistent responder answers over one remote process across estimates, and a new one once closed', async (t) => {
  const other = new SshTransport('sshhost3', sshd.config);
  try {
    await exchangeClock(4).estimate(ssh, other);
    await exchangeClock(4).estimate(ssh, other);
    const clock = persistentResponder(other, CLOCK_RESPONDER);
    t.is(clock.starts, 1, "the second estimate reused the first one's responder");
    // a responder that answers with its own pid: the same process answers every request
    const pids = persistentResponder(other, ['bash', '-c', 'while IFS= read -r line; do echo "$$ $line"; done']);
    const first = (await pids.request("it's; $(touch /tmp/vb-pwned) `id`")).answer;
    const second = (await pids.request('again')).answer;
    t.is(first.split(' ')[0], second.split(' ')[0]);
    t.is(first.slice(first.indexOf(' ') + 1), "it's; $(touch /tmp/vb-pwned) `id`", 'a request reaches the process as data');
    t.false(existsSync('/tmp/vb-pwned'));
    await pids.close();
    const third = (await pids.request('after')).answer;
    t.not(third.split(' ')[0], first.split(' ')[0]);
    t.is(pids.starts, 2);
    await t.throwsAsync(pids.request('two\nlines'), { message: /one line/ });
  } finally {
    await other.close();
  }
});

test.serial('close ends the master and terminates processes still running', async (t) => {
  const own = new SshTransport('closing', sshd.config);
  const process = await own.start(['sleep', '60']);
  t.true(existsSync(`/proc/${process.pid}`));
  const dir = own.privateDirectory!;
  await own.close();
  // the session ended before the process could report: exited says so (255, as ssh does)
  t.deepEqual(await process.exited, { code: 255, signal: null });
  t.true(await eventually(async () => !existsSync(`/proc/${process.pid}`)), 'the remote process was terminated');
  t.false(existsSync(dir), 'the private directory is removed');
  // nothing reopens a master behind a closed transport (e.g. a QMP socket closing late)
  await t.throwsAsync(own.run(['true']), { message: /ssh transport is closed/ });
  await t.throwsAsync(own.connectUnixSocket('/nonexistent'), { message: /ssh transport is closed/ });
  t.false(existsSync(dir));
});

test.serial('a jump host gets the identity and known hosts too (two logins: the jump, then the host)', async (t) => {
  const before = (sshd.log().match(/Accepted publickey/g) ?? []).length;
  const jumped = new SshTransport('jumped', { ...sshd.config, host: 'localhost', jumpHost: `root@127.0.0.1:${sshd.port}` });
  try {
    t.is((await jumped.run(['printf', '%s', HOSTILE[1]])).stdout, HOSTILE[1]);
    t.is((sshd.log().match(/Accepted publickey/g) ?? []).length - before, 2);
  } finally {
    await jumped.close();
  }
});

test.serial('identity and known-hosts paths with spaces, % and $() work', async (t) => {
  const dir = join(scratch, 'keys 100% $(x)');
  await mkdir(dir, { recursive: true });
  const identityFile = join(dir, "id %h 'key'");
  const knownHostsFile = join(dir, 'known %d hosts');
  await writeFile(identityFile, await readFile(sshd.identityFile), { mode: 0o600 });
  await writeFile(knownHostsFile, await readFile(sshd.knownHostsFile));
  const other = new SshTransport('oddpaths', { ...sshd.config, identityFile, knownHostsFile });
  try {
    t.is((await other.run(['echo', 'ok'])).stdout, 'ok\n');
  } finally {
    await other.close();
  }
  noInjection(t);
});

test('an unreachable host is a connection error, even when failure is allowed', async (t) => {
  const nowhere = new SshTransport('nowhere', { ...sshd.config, port: 1 });
  try {
    const error = await t.throwsAsync(nowhere.run(['true'], { allowFailure: true }));
    t.true(error instanceof SshConnectionError);
    t.regex(error!.message, /nowhere: ssh could not reach the host: .*(refused|Connection)/);
  } finally {
    await nowhere.close();
  }
});

test('profile values cannot become ssh options', (t) => {
  t.throws(() => new SshTransport('h', { ...sshd.config, host: '-oProxyCommand=touch /tmp/x' }), { message: /must not start with "-"/ });
  t.throws(() => new SshTransport('h', { ...sshd.config, identityFile: '/k" -oProxyCommand="x' }), { message: /identityFile .* double quotes/ });
  t.throws(() => new SshTransport('h', { ...sshd.config, knownHostsFile: '/k/${HOME}' }), { message: /knownHostsFile/ });
  const argv = ['qemu-system-x86_64', '-name', "a b'c", '$(x)'];
  const described = ssh.describe(argv);
  t.true(described.startsWith(`ssh -l root -p ${sshd.port} -i `), described);
  // a shell reading the description sees the remote command as one word: the quoted argv
  const words = execFileSync('bash', ['-c', `printf '%s\\0' ${described}`])
    .toString()
    .split('\0')
    .slice(0, -1);
  t.is(words.at(-1), shellJoin(argv));
  t.is(words.at(-2), '127.0.0.1');
});
