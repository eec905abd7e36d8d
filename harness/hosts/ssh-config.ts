/**
 * Values in ssh's own configuration language (-o options and ssh_config files), which has its own
 * quoting and expansions: what it can carry is quoted, what it cannot is refused.
 */

/** ssh expands %-tokens in IdentityFile, UserKnownHostsFile and friends: a literal % is %%. */
function escapeTokens(path: string): string {
  return path.replaceAll('%', '%%');
}

/**
 * One double-quoted ssh_config argument (for -o and our config file). ssh's tokeniser has no
 * escape for a double quote, and expands ${VAR}: values it cannot carry are refused.
 */
export function configWord(field: string, value: string): string {
  if (/["\\\x00-\x1f\x7f]|\$\{/.test(value))
    throw new Error(`ssh ${field} ${JSON.stringify(value)}: double quotes, backslashes, "\${" and control characters cannot be passed to ssh's configuration`);
  return `"${escapeTokens(value)}"`;
}

/**
 * Keepalives so a master on a dead link (host powered off, cable pulled: no FIN ever comes)
 * notices within ~15 s and closes, like one whose sshd went away; and a bounded connect.
 * After the profile's own options, so those win (ssh keeps the first value it is given).
 */
export const LIVENESS_OPTIONS = ['ServerAliveInterval=5', 'ServerAliveCountMax=3', 'ConnectTimeout=15'];

/**
 * ssh hands a jump host only `-F` (not -i or -o), so identity, known hosts and host key policy
 * reach the jump through a config file of our own; the user's and the system's ssh_config
 * follow it for everything else (first value wins).
 */
export function jumpHostConfig(hostName: string, c: { strictHostKeyChecking: string; identityFile?: string; knownHostsFile?: string }): string {
  const lines = [
    `# vdpa-bench: ssh settings for host ${JSON.stringify(hostName)} and its jump host`,
    'Host *',
    '  BatchMode yes',
    `  StrictHostKeyChecking ${c.strictHostKeyChecking}`,
  ];
  if (c.identityFile) lines.push(`  IdentityFile ${configWord('identityFile', c.identityFile)}`, '  IdentitiesOnly yes');
  if (c.knownHostsFile) lines.push(`  UserKnownHostsFile ${configWord('knownHostsFile', c.knownHostsFile)}`);
  lines.push('Include ~/.ssh/config', 'Include /etc/ssh/ssh_config', '');
  return lines.join('\n');
}
