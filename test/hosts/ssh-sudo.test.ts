/**
 * The ssh transport with `sudo: true` against a real sshd that refuses root logins, a real
 * non-root user and real sudo (testbed/sudo-user.ts): every command, script, file read, started
 * process, stream and socket arrives as root with its argument array intact; a sudo that wants a
 * password stops the first command with the reason, and nothing runs.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { CLOCK_RESPONDER } from '../../harness/hosts/clock.ts';
import { gatherHostFacts } from '../../harness/hosts/facts.ts';
import { persistentResponder } from '../../harness/hosts/line-responder.ts';
import { SshTransport } from '../../harness/hosts/ssh.ts';
import { SudoRefusedError } from '../../harness/hosts/sudo.ts';
import { shellQuote } from '../../harness/hosts/transport.ts';
import { acquireLock } from '../../harness/run/lock.ts';
import { ownerRecord } from '../../harness/run/ownership.ts';
import type { TestSshd } from '../../testbed/sshd.ts';
import { createSudoUser, sudoLogin, type SudoLogin, type SudoUser } from '../../testbed/sudo-user.ts';
import { requires } from '../helpers/requires.ts';

const test = requires('root', 'sshd', 'sudo');

let login: SudoLogin | undefined;
let sshd: TestSshd;
let user: SudoUser;
let sudo: SshTransport;
/** Root-only (0700) as a lab's /var/tmp/vdpa-bench would be after a root run: the login user cannot read it without sudo. */
let rootOnly: string;
const marker = `vb-sudo-pwned-${randomBytes(4).toString('hex')}`;

const HOSTILE = [
  'a;b',
  `$(touch /tmp/${marker}-1)`,
  `\`touch /tmp/${marker}-2\``,
  "it's",
  '"double"',
  'line one\nline two',
  '  spaced  out  ',
  '',
  '-n',
  '--',
  '-u',
  '*',
  '$HOME ${PATH}',
  '\\back\\slash',
  'a|b&c>d<e',
  `'; touch /tmp/${marker}-3; '`,
  'ünïcødé ✓',
];

test.before(async () => {
  login = await sudoLogin('vb-sudo-test-');
  ({ sshd, user, sudo, rootOnly } = login);
});

test.after.always(async () => {
  await login?.close();
  for (const n of [1, 2, 3]) await rm(`/tmp/${marker}-${n}`, { force: true });
});

function noInjection(t: { false(v: boolean, m?: string): void }) {
  for (const n of [1, 2, 3]) t.false(existsSync(`/tmp/${marker}-${n}`), `an injected command ran (${marker}-${n})`);
}

test.serial('root logins are refused by this sshd: only the sudo user gets in', async (t) => {
  const root = new SshTransport('asroot', sshd.config);
  try {
    await t.throwsAsync(root.run(['true']), { message: /ssh could not reach the host: .*Permission denied/ });
  } finally {
    await root.close();
  }
  const plain = new SshTransport('plain', { ...user.config, sudo: false });
  try {
    t.is((await plain.run(['id', '-u'])).stdout.trim(), String(user.uid), 'without sudo the user is itself');
  } finally {
    await plain.close();
  }
});

test.serial('under sudo every argv runs as root and arrives byte for byte (hostile words, sudo-looking options too)', async (t) => {
  t.is((await sudo.run(['id', '-u'])).stdout.trim(), '0');
  const result = await sudo.run(['printf', '%s\\0', ...HOSTILE]);
  t.deepEqual(result.stdout.split('\0').slice(0, -1), HOSTILE);
  // a first word sudo would read as its own option is the command's: sudo -n -- ends sudo's options
  t.is((await sudo.run(['env', '-u', 'X', 'printf', '%s', '-n'])).stdout, '-n');
  noInjection(t);
});

test.serial("the manifest's host facts say who the commands ran as: root, for the login user", async (t) => {
  const facts = await gatherHostFacts(sudo);
  t.deepEqual(facts.runsAs, { uid: 0, user: 'root', sudoFrom: user.name });
  const plain = new SshTransport('plain', { ...user.config, sudo: false });
  try {
    t.deepEqual((await gatherHostFacts(plain)).runsAs, { uid: user.uid, user: user.name });
  } finally {
    await plain.close();
  }
});

test.serial('under sudo script arguments and environment values are data', async (t) => {
  const result = await sudo.script('printf "%s\\0" "$(id -u)" "$@"', HOSTILE);
  t.deepEqual(result.stdout.split('\0').slice(0, -1), ['0', ...HOSTILE]);
  const env = await sudo.run(['printenv', 'VB_TEST'], { env: { VB_TEST: HOSTILE[1] + HOSTILE[5] } });
  t.is(env.stdout, `${HOSTILE[1]}${HOSTILE[5]}\n`);
  noInjection(t);
});

test.serial('under sudo files only root can read come back intact, and files written through it are root-owned', async (t) => {
  const path = join(rootOnly, "trace $(x) 'q'.log");
  const bytes = randomBytes(100_000);
  await writeFile(path, bytes, { mode: 0o600 });
  t.true((await sudo.readFile(path)).equals(bytes));
  const local = join(rootOnly, 'fetched', 'copy.log');
  await sudo.fetchFile(path, local);
  t.true((await readFile(local)).equals(bytes));
  const written = join(rootOnly, 'dir; x', 'owner.json');
  await sudo.run(['mkdir', '-p', '--', join(rootOnly, 'dir; x')]);
  await sudo.run(['tee', '--', written], { input: HOSTILE[5] });
  t.is(await readFile(written, 'utf8'), HOSTILE[5]);
  t.is((await sudo.run(['stat', '-c', '%u', '--', written])).stdout.trim(), '0');
});

test.serial('under sudo a started process (QEMU) runs as root: its pid, its kill and its exit', async (t) => {
  const out = join(rootOnly, 'out $(z)', 'qemu.log');
  const process = await sudo.start(['bash', '-c', 'id -u; exec sleep 60'], { stdoutFile: out, stderrFile: out });
  const status = await readFile(`/proc/${process.pid}/status`, 'utf8');
  t.regex(status, /^Uid:\t0\t/m, 'the remote pid is root');
  await process.kill('SIGTERM');
  t.deepEqual(await process.exited, { code: null, signal: 'SIGTERM' });
  t.is(await readFile(out, 'utf8'), '0\n');
});

test.serial('under sudo the clock responder and the lab lock holder run as root, in a root-only workdir', async (t) => {
  const ids = persistentResponder(sudo, ['bash', '-c', 'while IFS= read -r line; do echo "$(id -u) $line"; done']);
  t.is((await ids.request(HOSTILE[1])).answer, `0 ${HOSTILE[1]}`);
  await ids.close();
  const clock = persistentResponder(sudo, CLOCK_RESPONDER);
  t.regex((await clock.request()).answer, /\d/);
  await clock.close();

  const workdir = join(rootOnly, 'lab workdir');
  const lock = await acquireLock(sudo, workdir, ownerRecord('sudo-run'));
  t.true(existsSync(join(workdir, 'vdpa-bench.lock')));
  t.is((await sudo.run(['stat', '-c', '%u', '--', join(workdir, 'vdpa-bench.lock')])).stdout.trim(), '0');
  await lock.release();
  noInjection(t);
});

function echoServer(path: string): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((c) => c.pipe(c));
    server.listen(path, () => resolve(server));
  });
}

test.serial("under sudo QEMU's root-owned QMP socket is reached through the master (the socket handed to the login user)", async (t) => {
  const dir = await mkdtemp('/var/tmp/vb-sudo-sock-');
  await chmod(dir, 0o755);
  try {
    for (const name of ['qmp.sock', 'q m:p [x].sock']) {
      const path = join(dir, name);
      const server = await echoServer(path);
      await chmod(path, 0o600);
      try {
        const plain = new SshTransport('plain', { ...user.config, sudo: false });
        const denied = await t.throwsAsync(plain.connectUnixSocket(path));
        t.is((denied as NodeJS.ErrnoException).code, 'EACCES', 'the login user alone cannot reach root-only socket');
        await plain.close();
        const socket = await sudo.connectUnixSocket(path);
        // a refused forward is a failed test that still cleans up (the user, its sudoers file), not a crash
        const reply = await new Promise<string>((resolve, reject) => {
          socket.once('error', reject);
          socket.once('close', () => resolve('(closed without a reply)'));
          socket.once('data', (d: Buffer) => resolve(d.toString()));
          socket.write('{"execute": "qmp_capabilities"}\n');
        });
        t.is(reply, '{"execute": "qmp_capabilities"}\n', name);
        socket.destroy();
      } finally {
        server.close();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.serial('describe (plan) shows each command behind sudo -n --, quoted once', (t) => {
  const shown = sudo.describe(['qemu-system-x86_64', '-name', "a b'c"]);
  t.true(shown.includes(`-l ${user.name}`), shown);
  t.true(shown.endsWith(` -- 127.0.0.1 ${shellQuote(`sudo -n -- qemu-system-x86_64 -name ${shellQuote("a b'c")}`)}`), shown);
});

test.serial('a sudo that asks for a password stops the first command with what sudo must allow; nothing runs', async (t) => {
  const strict = await createSudoUser(sshd, 'password');
  const host = new SshTransport('strict', strict.config);
  try {
    const error = await t.throwsAsync(host.run(['touch', `/tmp/${marker}-1`]));
    t.true(error instanceof SudoRefusedError, String(error));
    t.regex(error!.message, /^strict: ssh vbsudo\w+@127\.0\.0\.1 port \d+: sudo -n asks for a password \("sudo: a password is required"\)/);
    t.regex(error!.message, /NOPASSWD: ALL/);
    // every later command says the same at once, the lock holder and a QEMU start included
    await t.throwsAsync(host.start(['sleep', '1']), { instanceOf: SudoRefusedError });
    await t.throwsAsync(host.readFile('/etc/shadow'), { instanceOf: SudoRefusedError });
    noInjection(t);
  } finally {
    await host.close();
    await strict.remove();
  }
});

test.serial('a host without the user in sudoers says so too', async (t) => {
  const nobody = await createSudoUser(sshd, 'nopasswd');
  await rm(join('/etc/sudoers.d', nobody.name));
  await mkdir('/etc/sudoers.d', { recursive: true });
  const host = new SshTransport('nosudo', nobody.config);
  try {
    const error = await t.throwsAsync(host.run(['true']), { instanceOf: SudoRefusedError });
    t.regex(error!.message, /sudo -n asks for a password|may not use sudo/);
  } finally {
    await host.close();
    await nobody.remove();
  }
});
