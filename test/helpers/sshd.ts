/**
 * A real OpenSSH server for the tests: its own sshd on 127.0.0.1 and a free port, with a
 * throw-away host key and user key in a temp dir. Nothing outside that dir is touched, except
 * creating sshd's privilege separation directory (/run/sshd) when it is missing.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { SshConfig } from '../../harness/hosts/ssh.ts';

export const SSHD = '/usr/sbin/sshd';

export interface TestSshd {
  port: number;
  dir: string;
  identityFile: string;
  knownHostsFile: string;
  /** A transport config that reaches this server as root. */
  config: SshConfig;
  /** sshd's own log (-e), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export async function startSshd(): Promise<TestSshd> {
  if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(tmpdir(), 'vb-sshd-'));
  const hostKey = join(dir, 'host_ed25519');
  const identityFile = join(dir, 'user_ed25519');
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vdpa-bench test host', '-f', hostKey]);
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vdpa-bench test user', '-f', identityFile]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(`${identityFile}.pub`), { mode: 0o600 });
  const hostPublic = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');

  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const knownHostsFile = join(dir, 'known_hosts');
    await writeFile(knownHostsFile, `[127.0.0.1]:${port},[localhost]:${port} ${hostPublic}\n`);
    const configFile = join(dir, 'sshd_config');
    await writeFile(
      configFile,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        // the temp dir's parents are not root-owned 0755 on every machine
        'StrictModes no',
        'AllowTcpForwarding yes',
        'AllowStreamLocalForwarding yes',
        'MaxSessions 32',
        // bash sources ~/.bashrc for every ssh command when SHLVL is unset; this machine's root
        // .bashrc runs `pyenv init` (~2.5 s), which would swamp every measurement of the transport
        'SetEnv SHLVL=1',
        'Subsystem sftp /usr/lib/openssh/sftp-server',
        'LogLevel INFO',
        '',
      ].join('\n'),
    );
    const logLines: string[] = [];
    const child = execa(SSHD, ['-D', '-e', '-f', configFile], { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', buffer: false, cleanup: true });
    child.stderr?.on('data', (d: Buffer) => logLines.push(d.toString('utf8')));
    const ready = await waitForBanner(port, child, 10_000);
    if (!ready) {
      child.kill('SIGKILL');
      await child;
      const log = logLines.join('');
      if (attempt < 3 && /Address already in use|Cannot bind/i.test(log)) continue;
      await rm(dir, { recursive: true, force: true });
      throw new Error(`test sshd did not start: ${log.trim() || 'no output'}`);
    }
    return {
      port,
      dir,
      identityFile,
      knownHostsFile,
      config: {
        host: '127.0.0.1',
        user: 'root',
        port,
        identityFile,
        knownHostsFile,
        strictHostKeyChecking: 'yes',
        controlPersist: '2m',
        options: [],
      },
      log: () => logLines.join(''),
      async stop() {
        child.kill('SIGTERM');
        await Promise.race([child, new Promise((r) => setTimeout(r, 5_000))]);
        child.kill('SIGKILL');
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Ready when the server sends its "SSH-2.0-" banner; false if sshd exits first or time runs out. */
async function waitForBanner(port: number, child: ResultPromise, timeoutMs: number): Promise<boolean> {
  let exited = false;
  void child.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited) {
    const banner = await new Promise<string>((resolve) => {
      const socket = createConnection(port, '127.0.0.1');
      let data = '';
      socket.on('data', (d) => {
        data += d.toString('latin1');
        if (data.includes('\n')) socket.destroy();
      });
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(''));
      socket.setTimeout(2_000, () => socket.destroy());
    });
    if (banner.startsWith('SSH-2.0-')) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
