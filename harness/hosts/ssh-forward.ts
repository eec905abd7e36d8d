/**
 * A QMP socket on an ssh host reached from here: the master connection forwards a local unix
 * socket in the harness's private directory to the remote one (`ssh -O forward -L local:remote`).
 */
import { rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import type { HostTransport } from './transport.ts';

/**
 * Finds the path sshd is to connect to and checks a socket is there (so a caller retrying until
 * QEMU listens sees ENOENT, as locally); prints "path P" or "alias P". Under sudo ($2) the path
 * is resolved first: a sudo run's `sock` is a symlink to a directory of the login user's own
 * (migration/run-directory.ts), since sshd connects as that user and may not pass the workdir;
 * the socket (QEMU's, root's) is handed to the login user (sudo's SUDO_UID). A path ssh's `-L`
 * syntax cannot carry (':', spaces, brackets, '%') is reached through a symlink with a plain
 * name in a private directory on the host.
 */
const SOCKET_PROBE = String.raw`
export LC_ALL=C
p=$1
if [ -n "$2" ]; then p=$(readlink -f -- "$1") || { echo "no socket at $1" >&2; exit 2; }; fi
[ -S "$p" ] || { echo "no socket at $1" >&2; exit 2; }
[ -w "$p" ] || { echo "cannot write to $1" >&2; exit 13; }
if [ -n "$2" ]; then
  [ -n "$SUDO_UID" ] || { echo "sudo did not say who logged in (no SUDO_UID)" >&2; exit 13; }
  chown -- "$SUDO_UID" "$p" || { echo "cannot hand $p to uid $SUDO_UID" >&2; exit 13; }
fi
case $p in
  *[!A-Za-z0-9_./+=,@-]*)
    d=$(mktemp -d /tmp/vb-fwd-XXXXXXXX) && ln -s -- "$p" "$d/s" || exit 5
    if [ -n "$2" ]; then chown -- "$SUDO_UID" "$d" || exit 13; fi
    echo "alias $d/s" ;;
  *) echo "path $p" ;;
esac
`;

export interface ForwardLink {
  hostName: string;
  /** Runs the probe and the alias clean-up on the host. */
  host: Pick<HostTransport, 'script' | 'run'>;
  /** A control command for the master (`-O forward`, `-O cancel`). */
  control(args: readonly string[]): Promise<void>;
  /** The host runs commands through sudo: the socket is root's, sshd connects as the login user. */
  sudo?: boolean;
  /** The local socket path to forward from (unused so far). */
  localPath: string;
}

/** Connects to `path` on the host; rejects like a local connect (ENOENT) while nothing listens there yet. */
export async function forwardUnixSocket(link: ForwardLink, path: string): Promise<Duplex> {
  const probe = await link.host.script(SOCKET_PROBE, [path, link.sudo ? 'sudo' : ''], { allowFailure: true });
  const found = /^(path|alias) (\/.*)$/.exec(probe.stdout.trim());
  if (probe.exitCode !== 0 || !found) {
    const code = probe.exitCode === 2 ? 'ENOENT' : probe.exitCode === 13 ? 'EACCES' : 'EIO';
    throw Object.assign(new Error(`${link.hostName}: connect ${path}: ${probe.stderr.trim() || `probe printed ${JSON.stringify(probe.stdout)}`}`), { code });
  }
  const needsAlias = found[1] === 'alias';
  const remotePath = found[2];
  const localPath = link.localPath;
  const spec = `${localPath}:${remotePath}`;
  const release = async () => {
    await link.control(['-O', 'cancel', '-L', spec]).catch(() => undefined);
    await rm(localPath, { force: true });
    if (needsAlias) await link.host.run(['rm', '-rf', '--', dirname(remotePath)], { allowFailure: true }).catch(() => undefined);
  };
  try {
    await link.control(['-O', 'forward', '-L', spec]);
    const socket = await new Promise<Duplex>((resolve, reject) => {
      const s = createConnection(localPath);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    socket.once('close', () => void release());
    return socket;
  } catch (error) {
    await release();
    throw error;
  }
}
