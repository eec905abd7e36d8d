/**
 * A lab host reached with the system OpenSSH client. One multiplexed master connection per host
 * (ControlMaster/ControlPersist) carries every command, file copy, QMP socket and clock probe,
 * so a run with hundreds of commands pays the handshake once.
 *
 * The remote login shell parses the command line again: every remote command is sent as
 * shellJoin(argv), where each word is POSIX single-quoted, so profile values arrive as data.
 * (This needs a POSIX login shell on the host: sh, bash, dash, zsh — not csh or fish.)
 * With `sudo: true` each remote argv is run as root through `sudo -n --` (sudo.ts).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { forwardUnixSocket } from './ssh-forward.ts';
import { childStream } from './child-stream.ts';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa, type Options, type ResultPromise } from 'execa';
import { execaOwnSession } from './own-session.ts';
import type { Transport } from '../profile/schema.ts';
import { parseDuration } from '../profile/size.ts';
import { abortableSleep, formatSeconds, RECONNECT_BACKOFF_MS } from './reconnect-wait.ts';
import { configWord, jumpHostConfig, LIVENESS_OPTIONS } from './ssh-config.ts';
import { SSH_FAILURE, SshConnectionError, SshProcess, START_WRAPPER } from './ssh-process.ts';
import { asRoot, SUDO_PROBE, sudoRefusal, SudoRefusedError } from './sudo.ts';
import {
  bound,
  CommandError,
  HostUnreachableError,
  shellJoin,
  toRunResult,
  type ConnectionLoss,
  type HostProcess,
  type HostStream,
  type HostTransport,
  type Reconnected,
  type ReconnectOptions,
  type RunOptions,
  type RunResult,
  type StartOptions,
} from './transport.ts';

/** ssh clients in a session of their own: a terminal's Ctrl-C must not end what they carry (own-session.ts). */
const ssh = <O extends Options>(args: readonly string[], options: O) => execaOwnSession('ssh', args, options);

export type SshConfig = Omit<Extract<Transport, { kind: 'ssh' }>, 'kind' | 'sudo'> & { sudo?: boolean };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class SshTransport implements HostTransport {
  readonly kind = 'ssh' as const;
  readonly sudo: boolean;
  private controlDir?: Promise<string>;
  private master?: Promise<void>;
  /** The local pid of the master connection in use: another pid (or none) means it was lost. */
  private masterPid?: number;
  private lostSince?: Date;
  /** Set once reconnecting gave up: every later command fails with it at once. */
  private unreachable?: HostUnreachableError;
  private forwards = 0;
  private closed = false;
  private readonly children = new Set<ResultPromise>();

  constructor(
    readonly hostName: string,
    readonly config: SshConfig,
  ) {
    this.sudo = config.sudo ?? false;
    if (config.host.startsWith('-')) throw new Error(`host ${hostName}: ssh host "${config.host}" must not start with "-"`);
    if (config.user?.startsWith('-')) throw new Error(`host ${hostName}: ssh user "${config.user}" must not start with "-"`);
    // refuse paths ssh cannot be given now, not at the first command
    if (config.identityFile) configWord('identityFile', config.identityFile);
    if (config.knownHostsFile) configWord('knownHostsFile', config.knownHostsFile);
  }

  /** Options every ssh invocation of this host shares (connection, identity, multiplexing). */
  private async sshOptions(): Promise<string[]> {
    const c = this.config;
    const dir = await this.privateDir();
    const args = [
      '-o',
      'BatchMode=yes',
      '-o',
      `StrictHostKeyChecking=${c.strictHostKeyChecking}`,
      '-o',
      'LogLevel=ERROR',
      '-o',
      'ControlMaster=auto',
      '-o',
      `ControlPath=${join(dir, 'master')}`,
      '-o',
      `ControlPersist=${Math.max(1, Math.round(parseDuration(c.controlPersist) / 1000))}`,
      '-o',
      'StreamLocalBindUnlink=yes',
    ];
    if (c.jumpHost) args.push('-F', await this.jumpConfig(dir), '-J', c.jumpHost);
    if (c.user) args.push('-l', c.user);
    if (c.port) args.push('-p', String(c.port));
    // as -o (not -i): ssh then quotes, %-expands and never drops a path it could not stat early
    if (c.identityFile) args.push('-o', `IdentityFile=${configWord('identityFile', c.identityFile)}`, '-o', 'IdentitiesOnly=yes');
    if (c.knownHostsFile) args.push('-o', `UserKnownHostsFile=${configWord('knownHostsFile', c.knownHostsFile)}`);
    for (const option of c.options) args.push('-o', option);
    for (const option of LIVENESS_OPTIONS) args.push('-o', option);
    return args;
  }

  private jumpConfigFile?: Promise<string>;
  /** ssh hands a jump host only `-F` (not -i or -o): see jumpHostConfig. */
  private jumpConfig(dir: string): Promise<string> {
    this.jumpConfigFile ??= (async () => {
      const file = join(dir, 'ssh_config');
      await writeFile(file, jumpHostConfig(this.hostName, this.config), { mode: 0o600 });
      return file;
    })();
    return this.jumpConfigFile;
  }

  /** The control socket and forwarded sockets live here: short (108-byte socket paths) and 0700. */
  private privateDir(): Promise<string> {
    // a late caller (a socket closing after the run) must not open a new master nobody closes
    if (this.closed && !this.controlDir) return Promise.reject(new Error(`${this.hostName}: the ssh transport is closed`));
    this.controlDir ??= (async () => {
      const base = tmpdir().length <= 40 ? tmpdir() : '/tmp';
      return (this.privateDirectory = await mkdtemp(join(base, 'vb-ssh-')));
    })();
    return this.controlDir;
  }

  /** Where the control socket and forwarded sockets are (once the first command ran). */
  privateDirectory?: string;

  /** Opens the master connection once; later commands multiplex over it (or reopen it if it timed out). */
  private ensureMaster(): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.hostName}: the ssh transport is closed`));
    this.master ??= (async () => {
      const args = [...(await this.sshOptions()), '-o', 'ControlMaster=yes', '-f', '-N', '--', this.config.host];
      const result = await ssh(args, { reject: false, stdin: 'ignore', timeout: 60_000 });
      if (result.exitCode !== 0) {
        this.master = undefined;
        throw new SshConnectionError(this.hostName, String(result.stderr || result.message));
      }
      this.masterPid = (await this.runningMaster()) ?? undefined;
      // before any command relies on it (the lock holder is the first): a sudo that wants a password is said so, once
      if (this.config.sudo) {
        const options = { reject: false, stdin: 'ignore', timeout: 30_000 } as const;
        const probe = await ssh([...(await this.sshOptions()), '--', this.config.host, this.line(SUDO_PROBE)], options);
        const refusal = sudoRefusal(toRunResult(probe), this.connectionName());
        if (refusal) throw new SudoRefusedError(this.hostName, refusal);
      }
    })();
    return this.master;
  }

  /** The pid of the master listening on our control socket, or null when there is none. */
  private async runningMaster(): Promise<number | null> {
    const result = await ssh([...(await this.sshOptions()), '-O', 'check', '--', this.config.host], {
      reject: false,
      stdin: 'ignore',
      timeout: 10_000,
    });
    const pid = /pid=(\d+)/.exec(String(result.stderr))?.[1];
    return result.exitCode === 0 && pid ? Number(pid) : null;
  }

  /** `ssh root@lab1 port 2222`: the connection in the words a lab engineer would check. */
  private connectionName(): string {
    const c = this.config;
    return `ssh ${c.user ? `${c.user}@` : ''}${c.host}${c.port ? ` port ${c.port}` : ''}${c.jumpHost ? ` via ${c.jumpHost}` : ''}`;
  }

  async connectionLost(): Promise<ConnectionLoss | null> {
    if (this.unreachable) return { since: this.unreachable.since, connection: this.connectionName(), detail: 'unreachable' };
    // never connected (or closed on purpose): nothing was lost
    if (this.closed || this.masterPid === undefined) return null;
    const pid = await this.runningMaster();
    if (pid === this.masterPid) return null;
    this.lostSince ??= new Date();
    // ControlMaster=auto lets a later command open a new master by itself; what ran over the old one is gone all the same
    const detail = pid === null ? 'the master connection closed' : `the master connection (pid ${this.masterPid}) was replaced by pid ${pid}`;
    return { since: this.lostSince, connection: this.connectionName(), detail };
  }

  async reconnect(timeoutMs: number, options: ReconnectOptions = {}): Promise<Reconnected> {
    if (this.unreachable) throw this.unreachable;
    const since = (this.lostSince ??= new Date());
    const deadline = since.getTime() + timeoutMs;
    let lastError = '';
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new Error(`${this.hostName}: the ssh transport is closed`);
      try {
        await this.replaceMaster();
        this.lostSince = undefined;
        return { since, attempts: attempt, downMs: Date.now() - since.getTime() };
      } catch (error) {
        lastError = error instanceof SshConnectionError ? error.stderr.trim().split('\n').pop()! : (error as Error).message;
      }
      const left = deadline - Date.now();
      if (left <= 0 || options.signal?.aborted) {
        const gaveUp = options.signal?.aborted
          ? `gave up waiting (interrupted) after ${formatSeconds(Date.now() - since.getTime())}`
          : `no connection within ${formatSeconds(timeoutMs)}`;
        this.unreachable = new HostUnreachableError(
          this.hostName,
          since,
          `${this.connectionName()}: ${gaveUp} (${attempt} attempt${attempt === 1 ? '' : 's'}; last: ${lastError || 'no message from ssh'})`,
        );
        throw this.unreachable;
      }
      const wait = Math.min(RECONNECT_BACKOFF_MS[Math.min(attempt - 1, RECONNECT_BACKOFF_MS.length - 1)], left);
      options.onRetry?.(
        `${this.hostName}: reconnect attempt ${attempt} failed (${lastError}); next in ${formatSeconds(wait)}, giving up at ${new Date(deadline).toISOString()}`,
      );
      await abortableSleep(wait, options.signal);
    }
  }

  /** A working master on our control path: one another command opened meanwhile, or a fresh one. */
  private async replaceMaster(): Promise<void> {
    const pid = await this.runningMaster();
    if (pid !== null) {
      const probe = await ssh([...(await this.sshOptions()), '--', this.config.host, 'true'], { reject: false, stdin: 'ignore', timeout: 20_000 });
      if (probe.exitCode === 0) {
        this.masterPid = pid;
        this.master = Promise.resolve();
        return;
      }
      // a master hung on a dead link: end it so a new one can take the control path
      await ssh([...(await this.sshOptions()), '-O', 'exit', '--', this.config.host], { reject: false, stdin: 'ignore', timeout: 10_000 });
    }
    // a master killed outright leaves its socket behind, and ControlMaster=yes will not replace it
    await rm(join(await this.privateDir(), 'master'), { force: true });
    this.master = undefined;
    this.masterPid = undefined;
    await this.ensureMaster();
  }

  /** The remote command line of argv: each word POSIX-quoted, behind `sudo -n --` when the host says so. */
  private line(argv: readonly string[]): string {
    return shellJoin(asRoot(argv, this.config.sudo ?? false));
  }

  private async sshArgv(remoteCommand: string): Promise<string[]> {
    if (this.unreachable) throw this.unreachable;
    await this.ensureMaster();
    return [...(await this.sshOptions()), '--', this.config.host, remoteCommand];
  }

  private remoteArgv(argv: readonly string[], env?: Record<string, string>): string[] {
    if (argv.length === 0) throw new Error(`${this.hostName}: empty command`);
    if (!env || Object.keys(env).length === 0) return [...argv];
    for (const name of Object.keys(env))
      if (!ENV_NAME.test(name)) throw new Error(`${this.hostName}: invalid environment variable name ${JSON.stringify(name)}`);
    return ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv];
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const result = await (options.foreground ? execa : execaOwnSession)('ssh', await this.sshArgv(this.line(this.remoteArgv(argv, options.env))), {
      input: options.input,
      stdin: options.input === undefined ? 'ignore' : undefined,
      timeout: options.timeoutMs,
      reject: false,
      stripFinalNewline: false,
    });
    const out = toRunResult(result, options.timeoutMs);
    this.throwIfConnectionFailed(out);
    if (out.exitCode !== 0 && !options.allowFailure) throw new CommandError(this.hostName, argv, out);
    return out;
  }

  /** A lost connection is never a command's answer, even when the caller allows failure. */
  private throwIfConnectionFailed(result: RunResult): void {
    if (result.exitCode === 255 && SSH_FAILURE.test(result.stderr)) {
      if (this.masterPid !== undefined) this.lostSince ??= new Date();
      throw new SshConnectionError(this.hostName, result.stderr);
    }
  }

  script(script: string, args: readonly string[] = [], options: RunOptions = {}): Promise<RunResult> {
    return this.run(['bash', '-s', '--', ...args], { ...options, input: script });
  }

  async start(argv: readonly string[], options: StartOptions = {}): Promise<HostProcess> {
    const wrapped = [
      'bash',
      '-c',
      START_WRAPPER,
      'vdpa-bench-start',
      options.stdoutFile ?? '/dev/null',
      options.stderrFile ?? '/dev/null',
      ...this.remoteArgv(argv, options.env),
    ];
    const child = ssh(await this.sshArgv(this.line(wrapped)), {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      reject: false,
      buffer: false,
    });
    this.children.add(child);
    void child.finally(() => this.children.delete(child));
    return await SshProcess.started(this, child);
  }

  /** Signals a remote process by pid over the master connection. */
  async signal(pid: number, signal: NodeJS.Signals): Promise<void> {
    await this.run(['kill', '-s', signal.replace(/^SIG/, ''), '--', String(pid)], { allowFailure: true });
  }

  async readFile(path: string): Promise<Buffer> {
    const result = await ssh(await this.sshArgv(this.line(['cat', '--', path])), {
      encoding: 'buffer',
      stdin: 'ignore',
      reject: false,
      stripFinalNewline: false,
    });
    const stderr = Buffer.from(result.stderr ?? '').toString('utf8');
    if (result.exitCode !== 0) {
      const out = { exitCode: result.exitCode ?? 128, stdout: '', stderr };
      this.throwIfConnectionFailed(out);
      throw new CommandError(this.hostName, ['cat', '--', path], out);
    }
    return Buffer.from(result.stdout as Uint8Array);
  }

  async fetchFile(hostPath: string, localPath: string): Promise<void> {
    await mkdir(dirname(localPath), { recursive: true });
    const child = ssh(await this.sshArgv(this.line(['cat', '--', hostPath])), {
      stdin: 'ignore',
      stdout: 'pipe',
      reject: false,
      buffer: { stdout: false },
    });
    const [, result] = await Promise.all([pipeline(child.stdout!, createWriteStream(localPath)), child]);
    if (result.exitCode !== 0) {
      const out = { exitCode: result.exitCode ?? 128, stdout: '', stderr: String(result.stderr ?? '') };
      await rm(localPath, { force: true });
      this.throwIfConnectionFailed(out);
      throw new CommandError(this.hostName, ['cat', '--', hostPath], out);
    }
  }

  /** The host's unix socket forwarded by the master to our private directory (ssh-forward.ts); rejects like a local connect (ENOENT) until something listens. */
  async connectUnixSocket(path: string): Promise<Duplex> {
    const localPath = join(await this.privateDir(), `fwd${++this.forwards}`);
    return forwardUnixSocket({ hostName: this.hostName, host: this, sudo: this.sudo, control: (args) => this.control(args), localPath }, path);
  }

  /** Control commands for the master (`-O forward`, `-O cancel`, `-O exit`). */
  private async control(args: readonly string[]): Promise<void> {
    if (this.unreachable) throw this.unreachable;
    const result = await ssh([...(await this.sshOptions()), ...args, '--', this.config.host], { reject: false, stdin: 'ignore', timeout: 30_000 });
    if (result.exitCode !== 0) throw new Error(`${this.hostName}: ssh ${args.join(' ')}: ${String(result.stderr || result.message).trim()}`);
  }

  /** A long-lived command with its stdin and stdout (clock probes). */
  async stream(argv: readonly string[]): Promise<HostStream> {
    const child = ssh(await this.sshArgv(this.line(argv)), {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      reject: false,
      buffer: false,
    });
    this.children.add(child);
    void child.finally(() => this.children.delete(child));
    return childStream(child);
  }

  describe(argv: readonly string[]): string {
    const c = this.config;
    const visible = ['ssh'];
    if (c.user) visible.push('-l', c.user);
    if (c.port) visible.push('-p', String(c.port));
    if (c.identityFile) visible.push('-i', c.identityFile);
    if (c.jumpHost) visible.push('-J', c.jumpHost);
    visible.push('--', c.host, this.line(argv));
    return shellJoin(visible);
  }

  /** Ends the master connection: every session on it closes, and started processes are terminated. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.master) {
      await this.master.catch(() => undefined);
      await this.control(['-O', 'exit']).catch(() => undefined);
      this.master = undefined;
    }
    await Promise.allSettled([...this.children].map((c) => Promise.race([c, bound(5_000)])));
    for (const c of this.children) c.kill('SIGKILL');
    if (this.controlDir) await rm(await this.controlDir, { recursive: true, force: true });
    this.controlDir = undefined;
    this.privateDirectory = undefined;
    this.jumpConfigFile = undefined;
  }
}
