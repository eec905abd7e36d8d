/**
 * Root through sudo on an ssh host that refuses root logins (`sudo: true`): every remote command
 * becomes `sudo -n -- ARGV...`, the argument array kept whole (sudo execs it; no shell parses it
 * as root), and `-n` so that a sudo that wants a password fails at once instead of hanging on a
 * prompt nobody sees.
 */

/** What sudo must allow: any command as root, no password, no terminal (the harness has none). */
export const SUDO_REQUIREMENT =
  'the login user must be able to run any command as root without a password or a terminal: a sudoers line `USER ALL=(root) NOPASSWD: ALL` (visudo -f /etc/sudoers.d/vdpa-bench), and no `Defaults requiretty`';

/** argv run as root through sudo, unchanged when the host logs in as root itself. */
export function asRoot(argv: readonly string[], sudo: boolean): string[] {
  return sudo ? ['sudo', '-n', '--', ...argv] : [...argv];
}

/** The command the connection runs first when sudo is on (and `plan` shows): it must print 0. */
export const SUDO_PROBE = ['id', '-u'] as const;

/** Why sudo refused, in the lab engineer's terms, from what `sudo -n -- id -u` printed; null when it worked. */
export function sudoRefusal(result: { exitCode: number; stdout: string; stderr: string }, login: string): string | null {
  if (result.exitCode === 0 && result.stdout.trim() === '0') return null;
  const said = result.stderr.trim().split('\n').pop() ?? '';
  const why =
    result.exitCode === 127 || /sudo: (command )?not found/.test(said)
      ? 'sudo is not installed'
      : /password is required|terminal is required|askpass/.test(said)
        ? 'sudo -n asks for a password'
        : /must have a tty|requiretty/.test(said)
          ? 'sudo wants a terminal (Defaults requiretty)'
          : /not in the sudoers|not allowed/.test(said)
            ? 'the user may not use sudo'
            : result.exitCode === 0
              ? `sudo ran the command as uid ${result.stdout.trim() || '?'}, not root (a runas other than root?)`
              : `sudo failed (exit ${result.exitCode})`;
  return `${login}: ${why}${said ? ` ("${said}")` : ''}; transport sudo: true needs ${SUDO_REQUIREMENT}`;
}

export class SudoRefusedError extends Error {
  constructor(
    readonly host: string,
    detail: string,
  ) {
    super(`${host}: ${detail}`);
    this.name = 'SudoRefusedError';
  }
}
