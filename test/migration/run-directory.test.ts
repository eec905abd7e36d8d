/**
 * A run's directory on a host, as root and under sudo. Under sudo it sits in a workdir only root
 * can pass (0700, as a lab's /var/tmp/vdpa-bench), yet a QMP socket root makes in its `sock/` is
 * reached through the real sshd as the login user, hostile names included; removing the run
 * directory takes the login user's socket directory with it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readlink, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import ava from 'ava';
import { runCommand } from '../../harness/hosts/command.ts';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { SshTransport } from '../../harness/hosts/ssh.ts';
import { removeRunDirectory, runDirectories, SUDO_SOCKET_DIR_PREFIX } from '../../harness/migration/run-directory.ts';
import { sudoLogin, type SudoLogin, type SudoUser } from '../../testbed/sudo-user.ts';
import { requires } from '../helpers/requires.ts';

const test = requires('root', 'sshd', 'sudo');

let login: SudoLogin | undefined;
let user: SudoUser | undefined;
let sudo: SshTransport | undefined;
let rootOnly: string | undefined;
const marker = `vb-rundir-pwned-${randomBytes(4).toString('hex')}`;

test.before(async () => {
  login = await sudoLogin('vb-rundir-test-');
  ({ user, sudo, rootOnly } = login);
});

test.after.always(async () => {
  await login?.close();
  await rm(`/tmp/${marker}`, { force: true });
});

function echoServer(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((c) => c.pipe(c));
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

function echoOnce(socket: Duplex, line: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('close', () => resolve('(closed without a reply)'));
    socket.once('data', (d: Buffer) => resolve(d.toString()));
    socket.write(line);
  });
}

ava('as root (no sudo) the run directory is made and removed with plain argv, as before', (t) => {
  const local = new LocalTransport('local');
  t.deepEqual(runDirectories(local, '/w/r'), { kind: 'argv', argv: ['mkdir', '-p', '/w/r/sock', '/w/r/traces', '/w/r/console', '/w/r/stderr'] });
  t.deepEqual(removeRunDirectory(local, '/w/r'), { kind: 'argv', argv: ['rm', '-rf', '--', '/w/r'], allowFailure: true });
});

test.serial("under sudo, in a root-only workdir, a socket root's QEMU makes in sock/ is reached as the login user; removal takes its directory", async (t) => {
  const runDir = join(rootOnly!, `work dir $(touch /tmp/${marker})`, "run 'x'");
  await runCommand(sudo!, runDirectories(sudo!, runDir));
  // twice, as each block of a run makes them: the link stays the one made first
  const link = await readlink(join(runDir, 'sock'));
  await runCommand(sudo!, runDirectories(sudo!, runDir));
  t.is(await readlink(join(runDir, 'sock')), link);
  t.true(link.startsWith(SUDO_SOCKET_DIR_PREFIX), link);
  const dir = await stat(link);
  t.is(dir.uid, user!.uid, "the socket directory is the login user's");
  t.is(dir.mode & 0o777, 0o700, 'and only theirs');
  for (const sub of ['traces', 'console', 'stderr']) t.true((await lstat(join(runDir, sub))).isDirectory(), sub);

  for (const name of ['0001-src.sock', 'q m:p [x].sock']) {
    const path = join(runDir, 'sock', name);
    const server = await echoServer(path);
    try {
      const plain = new SshTransport('plain', { ...user!.config, sudo: false });
      const denied = await t.throwsAsync(plain.connectUnixSocket(path));
      t.regex(String((denied as NodeJS.ErrnoException).code), /^E(ACCES|NOENT)$/, 'without sudo the login user cannot reach it');
      await plain.close();
      const socket = await sudo!.connectUnixSocket(path);
      t.is(await echoOnce(socket, '{"execute": "qmp_capabilities"}\n'), '{"execute": "qmp_capabilities"}\n', name);
      socket.destroy();
    } finally {
      server.close();
    }
  }
  await runCommand(sudo!, removeRunDirectory(sudo!, runDir));
  t.false(existsSync(runDir), 'the run directory is gone');
  t.false(existsSync(link), 'and the socket directory it linked to');
  t.false(existsSync(`/tmp/${marker}`), 'an injected command ran');
});

test.serial('removal follows a sock link only into a socket directory of its own', async (t) => {
  const runDir = join(rootOnly!, 'planted');
  const victim = await mkdtemp('/var/tmp/vb-rundir-victim-');
  try {
    await runCommand(sudo!, { kind: 'argv', argv: ['mkdir', '-p', '--', runDir] });
    await runCommand(sudo!, { kind: 'argv', argv: ['ln', '-s', '--', victim, join(runDir, 'sock')] });
    await runCommand(sudo!, removeRunDirectory(sudo!, runDir));
    t.false(existsSync(runDir));
    t.true(existsSync(victim), 'a link elsewhere is removed, not followed');
    await runCommand(sudo!, { kind: 'argv', argv: ['mkdir', '-p', '--', runDir] });
    await runCommand(sudo!, { kind: 'argv', argv: ['ln', '-s', '--', `${SUDO_SOCKET_DIR_PREFIX}x/../../${victim}`, join(runDir, 'sock')] });
    await runCommand(sudo!, removeRunDirectory(sudo!, runDir));
    t.true(existsSync(victim), 'nor one that climbs out of it');
  } finally {
    await rm(victim, { recursive: true, force: true });
  }
});
