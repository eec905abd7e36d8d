/**
 * A real OpenSSH server for the tests and benchmarks: its own sshd on 127.0.0.1 and a free port, with a
 * throw-away host key and user key in a temp dir. Nothing outside that dir is touched, except
 * creating sshd's privilege separation directory (/run/sshd) when it is missing.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { SshConfig } from '../harness/hosts/ssh.ts';

/** The sshd the tests start (npm run test:unit points it at a stub that fails). */
export const SSHD = process.env.SSHD_PATH ?? '/usr/sbin/sshd';

export interface TestSshd {
  port: number;
  dir: string;
  identityFile: string;
  knownHostsFile: string;
  /** A transport config that reaches this server as root. */
  config: SshConfig;
  /** sshd's own log (-e), for failure messages. */
  log(): string;
  /**
   * The host drops off the network as far as ssh can tell: SIGKILL to the listening sshd and to
   * every sshd process serving a connection (only this server's: its process tree), so each
   * client connection is cut, not just new logins refused. Returns the pids killed.
   */
  drop(): Promise<number[]>;
  /**
   * The link goes silent instead: the processes serving connections are stopped (SIGSTOP), so
   * no FIN or reply ever reaches the client and what runs under them on the host lives on, as
   * when a cable is pulled; the listener is killed so a restart can take the port. Stopped
   * processes are killed by stop(). Returns their pids.
   */
  freeze(): Promise<number[]>;
  /** Starts the listener again on the same port with the same keys (after drop or freeze). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** `PermitRootLogin no`, as most real labs: only a non-root user (sudo-user.ts) can log in. */
  refuseRoot?: boolean;
}

export async function startSshd(options: SshdOptions = {}): Promise<TestSshd> {
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
    await writeFile(configFile, sshdConfig(port, hostKey, dir, options));
    const logLines: string[] = [];
    let listener: ResultPromise;
    try {
      listener = (await spawnListener(configFile, port, logLines)).process;
    } catch (error) {
      if (attempt < 3 && /Address already in use|Cannot bind/i.test(logLines.join(''))) continue;
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    let running = true;
    const frozen: number[] = [];
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
      async drop() {
        const pids = running ? [listener.pid!, ...(await sshdDescendants(listener.pid!))] : [];
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // a connection that ended by itself meanwhile
          }
        }
        await listener;
        running = false;
        return pids;
      },
      async freeze() {
        if (!running) return [];
        const sessions = await sshdDescendants(listener.pid!);
        for (const pid of sessions) signalIfAlive(pid, 'SIGSTOP');
        frozen.push(...sessions);
        listener.kill('SIGKILL');
        // not `await listener`: the stopped processes hold its stderr pipe open
        await processExit(listener);
        running = false;
        return sessions;
      },
      async restart() {
        if (running) throw new Error('test sshd: restart while running');
        // the port was free a moment ago and nothing else binds 127.0.0.1:<this port> here
        listener = (await spawnListener(configFile, port, logLines)).process;
        running = true;
      },
      async stop() {
        if (running) {
          const sessions = await sshdDescendants(listener.pid!);
          listener.kill('SIGTERM');
          await Promise.race([listener, new Promise((r) => setTimeout(r, 5_000))]);
          listener.kill('SIGKILL');
          for (const pid of sessions) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // already gone
            }
          }
        }
        running = false;
        for (const pid of frozen.splice(0)) signalIfAlive(pid, 'SIGKILL');
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}

function sshdConfig(port: number, hostKey: string, dir: string, options: SshdOptions): string {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    // root's key here; a user made by sudo-user.ts has it in its own ~/.ssh
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')} .ssh/authorized_keys`,
    `PermitRootLogin ${options.refuseRoot ? 'no' : 'prohibit-password'}`,
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
  ].join('\n');
}

/** Runs sshd in the foreground and waits for its banner; throws with its log if it does not come up. */
async function spawnListener(configFile: string, port: number, logLines: string[]): Promise<{ process: ResultPromise }> {
  // (wrapped: an async function returning the thenable child would wait for sshd to exit)
  const child = execa(SSHD, ['-D', '-e', '-f', configFile], { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', buffer: false, cleanup: true });
  child.stderr?.on('data', (d: Buffer) => logLines.push(d.toString('utf8')));
  if (await waitForBanner(port, child, 10_000)) return { process: child };
  child.kill('SIGKILL');
  await child;
  throw new Error(`test sshd did not start: ${logLines.join('').trim() || 'no output'}`);
}

/**
 * The sshd processes under the listener (one privileged monitor per connection and its
 * unprivileged child), found by parent pid. The users' commands below them are not sshd and are
 * left alone: they see their connection end, as on a real host.
 */
async function sshdDescendants(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const m = /^\d+ \((.*)\) \S+ (\d+)/s.exec(stat);
    if (!m) continue;
    parents.set(Number(entry), Number(m[2]));
    names.set(Number(entry), m[1]);
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parents) {
      if (parent !== pid || !names.get(child)?.startsWith('sshd')) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(root);
  return found;
}

function processExit(child: ResultPromise): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function signalIfAlive(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // it ended by itself meanwhile
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
