/**
 * A real non-root login user on this machine for the sudo tests, as a RHEL lab gives one: its own
 * home with the test sshd's user key in ~/.ssh/authorized_keys, and a sudoers drop-in (NOPASSWD
 * for every command, or a password demanded). remove() takes the user, its home and the drop-in
 * away again. Needs root and sudo installed.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { startSshd, type TestSshd } from './sshd.ts';
import { SshTransport, type SshConfig } from '../harness/hosts/ssh.ts';

export interface SudoUser {
  name: string;
  uid: number;
  /** A transport config that logs in as this user, with sudo on. */
  config: SshConfig;
  remove(): Promise<void>;
}

/** `sudo: 'nopasswd'` grants everything without a password; `'password'` makes sudo ask for one. */
export async function createSudoUser(sshd: TestSshd, sudo: 'nopasswd' | 'password'): Promise<SudoUser> {
  const name = `vbsudo${randomBytes(3).toString('hex')}`;
  // '*': no password to log in with, but not a locked account (sshd refuses those without PAM)
  await execa('useradd', ['--create-home', '--shell', '/bin/bash', '--password', '*', name]);
  const sudoers = join('/etc/sudoers.d', name);
  try {
    const uid = Number((await execa('id', ['-u', name])).stdout.trim());
    const home = (await execa('getent', ['passwd', name])).stdout.split(':')[5];
    await mkdir(join(home, '.ssh'), { recursive: true, mode: 0o700 });
    await writeFile(join(home, '.ssh', 'authorized_keys'), await readFile(`${sshd.identityFile}.pub`), { mode: 0o600 });
    await chown(join(home, '.ssh'), uid, uid);
    await chown(join(home, '.ssh', 'authorized_keys'), uid, uid);
    await writeFile(sudoers, `${name} ALL=(root) ${sudo === 'nopasswd' ? 'NOPASSWD: ' : ''}ALL\n`, { mode: 0o440 });
    await chmod(sudoers, 0o440);
    await execa('visudo', ['-c', '-q', '-f', sudoers]);
    return {
      name,
      uid,
      config: { ...sshd.config, user: name, sudo: true },
      async remove() {
        await rm(sudoers, { force: true });
        // --force: a session the test left open must not leave the user behind
        await execa('userdel', ['--force', '--remove', name], { reject: false });
      },
    };
  } catch (error) {
    await rm(sudoers, { force: true });
    await execa('userdel', ['--remove', name], { reject: false });
    throw error;
  }
}

/** A sudo login as a lab gives one: an sshd refusing root, a NOPASSWD user, its sudo transport, a root-only (0700) workdir. */
export interface SudoLogin {
  sshd: TestSshd;
  user: SudoUser;
  sudo: SshTransport;
  /** Root-only (0700), as a lab's /var/tmp/vdpa-bench after a root run: the login user cannot enter it without sudo. */
  rootOnly: string;
  /** Closes the transport, removes the user, stops sshd and removes the workdir; safe after a partial start. */
  close(): Promise<void>;
}

/** Starts the sshd, the user and the workdir (made under /var/tmp with the given prefix); a failure part way undoes what was made. */
export async function sudoLogin(workdirPrefix: string): Promise<SudoLogin> {
  const made: Partial<SudoLogin> = {};
  const close = async () => {
    await made.sudo?.close();
    await made.user?.remove();
    await made.sshd?.stop();
    if (made.rootOnly) await rm(made.rootOnly, { recursive: true, force: true });
  };
  try {
    made.sshd = await startSshd({ refuseRoot: true });
    made.user = await createSudoUser(made.sshd, 'nopasswd');
    made.sudo = new SshTransport('sudohost', made.user.config);
    made.rootOnly = await mkdtemp(`/var/tmp/${workdirPrefix}`);
    await chmod(made.rootOnly, 0o700);
    return { sshd: made.sshd, user: made.user, sudo: made.sudo, rootOnly: made.rootOnly, close };
  } catch (error) {
    await close();
    throw error;
  }
}
