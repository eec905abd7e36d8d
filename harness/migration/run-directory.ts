/**
 * A run's directory on a host (`<workdir>/<runId>`): made before the first QEMU starts there and
 * removed at the end, by the run and by the clean-up of dead runs, and shown by `plan` as made.
 *
 * Under sudo (a non-root login, `transport.sudo: true`) the QMP sockets cannot simply sit in it:
 * root's QEMU listens on them, but sshd connects to them for the forward as the login user, and a
 * workdir only root can pass (a /var/tmp/vdpa-bench made 0700, as labs have them) refuses that
 * user before the socket's own permissions are even looked at; QMP then closes before its
 * greeting. So `sock` is a symlink to a directory of the login user's own in /tmp (mode 0700):
 * QEMU's command line still names `<runDir>/sock/…` (what finds a run's QEMU processes), and
 * the forward goes to the resolved path (ssh-forward.ts).
 */
import { join } from 'node:path';
import { argv, script, type HostCommand } from '../hosts/command.ts';
import type { HostTransport } from '../hosts/transport.ts';

/** Where a sudo run's socket directories are made; removal only ever follows a `sock` link into one of these. */
export const SUDO_SOCKET_DIR_PREFIX = '/tmp/vb-qmp-';

const SUDO_RUN_DIRECTORIES = String.raw`
set -e
mkdir -p -- "$1/traces" "$1/console" "$1/stderr"
if [ ! -e "$1/sock" ] && [ ! -L "$1/sock" ]; then
  [ -n "$SUDO_UID" ] || { echo "sudo did not say who logged in (no SUDO_UID)" >&2; exit 3; }
  d=$(mktemp -d "$2"XXXXXXXX)
  chown -- "$SUDO_UID" "$d"
  ln -s -- "$d" "$1/sock"
fi
`;

const SUDO_REMOVE_RUN_DIRECTORY = String.raw`
if [ -L "$1/sock" ]; then
  t=$(readlink -- "$1/sock")
  case $t in
    *..*|"$2"*/*) ;;
    "$2"*) rm -rf -- "$t" ;;
  esac
fi
rm -rf -- "$1"
`;

/** The directories a host's QEMU processes write into (sockets, traces, consoles, stderr), made before the first launch. */
export function runDirectories(transport: HostTransport, runDir: string): HostCommand {
  if (transport.sudo) return script(SUDO_RUN_DIRECTORIES, [runDir, SUDO_SOCKET_DIR_PREFIX]);
  return argv(['mkdir', '-p', join(runDir, 'sock'), join(runDir, 'traces'), join(runDir, 'console'), join(runDir, 'stderr')]);
}

/** A run's directory removed, and under sudo the socket directory its `sock` link points to. */
export function removeRunDirectory(transport: HostTransport, runDir: string): HostCommand {
  if (transport.sudo) return script(SUDO_REMOVE_RUN_DIRECTORY, [runDir, SUDO_SOCKET_DIR_PREFIX], { allowFailure: true });
  return argv(['rm', '-rf', '--', runDir], { allowFailure: true });
}
