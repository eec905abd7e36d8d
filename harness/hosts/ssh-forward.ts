/**
 * A QMP socket on an ssh host reached from here: the master connection forwards a local unix
 * socket in the harness's private directory to the remote one (`ssh -O forward -L local:remote`).
 */
import { rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import type { HostTransport } from './transport.ts';

/** Characters `ssh -L local:remote` carries unchanged in a unix socket path (no ':', spaces, brackets, '%'). */
const FORWARDABLE_PATH = /^[A-Za-z0-9_./+=,@-]+$/;

/**
 * Checks the socket exists (so a caller retrying until QEMU listens sees ENOENT, as locally).
 * A path ssh's `-L` syntax cannot carry (':', spaces, brackets) is reached through a symlink
 * with a plain name in a private directory on the host. Under sudo the socket (QEMU's, root's)
 * is handed to the login user ($3: sudo's SUDO_UID), since sshd connects to it as that user.
 */
const SOCKET_PROBE = String.raw`
[ -S "$1" ] || { echo "no socket at $1" >&2; exit 2; }
[ -w "$1" ] || { echo "cannot write to $1" >&2; exit 13; }
if [ -n "$2" ]; then d=$(mktemp -d /tmp/vb-fwd-XXXXXXXX) && ln -s -- "$1" "$d/s" && echo "$d/s"; fi
if [ -n "$3" ] && [ -n "$SUDO_UID" ]; then
  chown -- "$SUDO_UID" "$1" || { echo "cannot hand $1 to uid $SUDO_UID" >&2; exit 13; }
  if [ -n "$2" ]; then chown -- "$SUDO_UID" "$d" || exit 13; fi
fi
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
  const needsAlias = !FORWARDABLE_PATH.test(path);
  const probe = await link.host.script(SOCKET_PROBE, [path, needsAlias ? 'alias' : '', link.sudo ? 'sudo' : ''], { allowFailure: true });
  if (probe.exitCode !== 0) {
    const code = probe.exitCode === 2 ? 'ENOENT' : probe.exitCode === 13 ? 'EACCES' : 'EIO';
    throw Object.assign(new Error(`${link.hostName}: connect ${path}: ${probe.stderr.trim()}`), { code });
  }
  const remotePath = needsAlias ? probe.stdout.trim() : path;
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
