/**
 * A Debian suite's QEMU on a lab host: a minimal root filesystem (`debootstrap --variant=minbase`
 * with qemu-system-x86 and its firmware) per suite, cached on the host and rebuilt on request.
 * The whole provisioning is one constant script run through the host's transport with the values
 * as "$1"...: it takes a lock (two runs provisioning the same suite wait for each other),
 * reuses a root whose QEMU is installed, else builds into `<root>.new` and renames it into place,
 * and never deletes a directory with anything mounted below it (a killed debootstrap leaves /proc
 * mounted in its target: it is unmounted first). Running QEMU from the root is qemu/root.ts.
 */
import { join } from 'node:path';
import type { HostTransport } from '../hosts/transport.ts';
import type { Host } from '../profile/schema.ts';
import { argv, runCommand, script, type HostCommand } from '../hosts/command.ts';

/** What a root gets beside the base system: QEMU, SeaBIOS and the iPXE option ROMs (virtio-net's ROM). */
export const QEMU_ROOT_PACKAGES = ['qemu-system-x86', 'seabios', 'ipxe-qemu'] as const;
export const QEMU_PACKAGE = 'qemu-system-x86';
export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian';
/** Roots on a remote host unless the host says `qemuRoots`. */
export const REMOTE_QEMU_ROOTS = '/var/cache/vdpa-bench/qemu-roots';

const SUITE = /^[a-z][a-z0-9-]{0,31}$/;
const MIRROR = /^(https?|file):\/\/[A-Za-z0-9._~:/@%+=,-]+$/;
/** /proc/self/mounts escapes these: a path holding one could not be checked for mounts below it. */
const MOUNTS_ESCAPED = /[\s\\]/;

export function checkSuite(suite: string): string {
  if (!SUITE.test(suite)) throw new Error(`${JSON.stringify(suite)} is not a Debian suite name (lower-case letters, digits and "-", e.g. trixie)`);
  return suite;
}

/** Where a host keeps its roots: its `qemuRoots`, the harness cache for this machine, else REMOTE_QEMU_ROOTS. */
export function qemuRootsDir(host: { qemuRoots?: string; transport: { kind: Host['transport']['kind'] } }, localCache: string): string {
  const dir = host.qemuRoots ?? (host.transport.kind === 'ssh' ? REMOTE_QEMU_ROOTS : join(localCache, 'qemu-roots'));
  if (!dir.startsWith('/')) throw new Error(`qemuRoots ${JSON.stringify(dir)} must be an absolute path`);
  if (MOUNTS_ESCAPED.test(dir))
    throw new Error(
      `qemuRoots ${JSON.stringify(dir)}: a root directory may not contain whitespace or a backslash (its mounts could not be checked before deleting it)`,
    );
  return dir.replace(/\/+$/, '');
}

export function suiteRoot(rootsDir: string, suite: string): string {
  return `${rootsDir}/${checkSuite(suite)}`;
}

export function debootstrapArgv(suite: string, target: string, mirror: string, include: readonly string[] = []): string[] {
  checkSuite(suite);
  if (!MIRROR.test(mirror)) throw new Error(`${JSON.stringify(mirror)} is not a Debian mirror URL`);
  if (!target.startsWith('/')) throw new Error(`debootstrap target ${JSON.stringify(target)} must be an absolute path`);
  return ['debootstrap', '--variant=minbase', ...(include.length ? [`--include=${include.join(',')}`] : []), suite, target, mirror];
}

/** The host's own Debian mirror (first non-security `.../debian` URI in its apt sources), else deb.debian.org. */
const HOST_MIRROR = String.raw`
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -r "$f" ] || continue
  grep -v '^[[:space:]]*#' "$f" | grep -oE '(https?|file)://[^[:space:]]+/debian/?([[:space:]]|$)' | tr -d '[:space:]' | sed 's:/*$::'
  echo
done | grep -v '^$' | head -n 1
`;

export function mirrorCommand(): HostCommand {
  return script(HOST_MIRROR, [], { timeoutMs: 30_000 });
}

export function parseMirror(stdout: string): string {
  const line = stdout.trim().split('\n')[0]?.trim() ?? '';
  return MIRROR.test(line) ? line : DEFAULT_DEBIAN_MIRROR;
}

const PROVISION = String.raw`
set -eu
dir=$1 suite=$2 mirror=$3 include=$4 mode=$5
mkdir -p -- "$(dirname -- "$dir")"
exec 9>>"$dir.lock"
flock 9
# the root's own dpkg-query by its path: the caller's PATH (which a chroot keeps) may name no directory of the root
version() { chroot "$dir" /usr/bin/dpkg-query -W -f="\${Version}" qemu-system-x86 2>/dev/null; }
ready() { [ -x "$dir/usr/bin/qemu-system-x86_64" ] && version >/dev/null; }
unmount_under() {
  for attempt in 1 2 3; do
    points=$(P=$1 awk '$2 == ENVIRON["P"] || index($2, ENVIRON["P"] "/") == 1 { print length($2) " " $2 }' /proc/self/mounts | sort -rn | cut -d' ' -f2-)
    [ -n "$points" ] || return 0
    printf '%s\n' "$points" | while IFS= read -r m; do umount --lazy -- "$m" || true; done
  done
  echo "still mounted below $1: $points (unmount by hand)" >&2
  return 1
}
remove_root() { [ -e "$1" ] || return 0; unmount_under "$1"; rm -rf --one-file-system -- "$1"; }
if [ "$mode" = check ]; then
  if ready; then echo "ready $(version)"; elif [ -e "$dir" ]; then echo incomplete; else echo absent; fi
  exit 0
fi
if [ "$mode" = remove ]; then remove_root "$dir.new"; remove_root "$dir"; echo removed; exit 0; fi
if [ "$mode" != refresh ] && ready; then echo "cached $(version)"; exit 0; fi
remove_root "$dir.new"
debootstrap --variant=minbase --include="$include" "$suite" "$dir.new" "$mirror" >&2
remove_root "$dir"
mv -T -- "$dir.new" "$dir"
ready || { echo "qemu-system-x86 is not installed in $dir after debootstrap" >&2; exit 1; }
echo "built $(version)"
`;

export type RootMode = 'check' | 'ensure' | 'refresh' | 'remove';

/** The one command that checks, builds, rebuilds or removes a suite's root on a host. */
export function qemuRootCommand(dir: string, suite: string, mirror: string, mode: RootMode): HostCommand {
  debootstrapArgv(suite, `${dir}.new`, mirror); // the same checks as the debootstrap line inside
  return script(PROVISION, [dir, suite, mirror, QEMU_ROOT_PACKAGES.join(','), mode], { timeoutMs: mode === 'check' ? 60_000 : 45 * 60_000 });
}

export interface QemuRootRecord {
  suite: string;
  host: string;
  root: string;
  package: typeof QEMU_PACKAGE;
  /** The installed package's exact Debian version (dpkg-query inside the root). */
  version: string;
  mirror: string;
  action: 'cached' | 'built';
  seconds: number;
}

export function parseRootOutcome(stdout: string): { action: 'cached' | 'built' | 'ready'; version: string } | null {
  const m = /^(cached|built|ready) (\S+)$/m.exec(stdout.trim().split('\n').pop() ?? '');
  return m ? { action: m[1] as 'cached' | 'built' | 'ready', version: m[2] } : null;
}

const HAS_TOOLS = String.raw`
[ "$(id -u)" = 0 ] || echo "root (debootstrap, chroot and the bind mounts need it)"
for t in "$@"; do
  command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || [ -x "/sbin/$t" ] || echo "the $t command (apt-get install debootstrap util-linux coreutils)"
done
`;

/** Running QEMU from a root needs chroot, unshare and mount; making one also debootstrap and flock. */
export function toolsCommand(building: boolean): HostCommand {
  return script(HAS_TOOLS, [...(building ? ['debootstrap', 'flock'] : []), 'chroot', 'unshare', 'mount'], { timeoutMs: 30_000 });
}

/**
 * Ensures (or with `refresh`, rebuilds) a suite's root on a host. `host` runs the commands: for a
 * namespaced host that is this machine outside the namespace (same filesystem, and the mirror is
 * reachable from there).
 */
export async function provisionQemuRoot(
  host: HostTransport,
  o: { rootsDir: string; suite: string; refresh?: boolean; log?: (line: string) => void },
): Promise<QemuRootRecord> {
  const started = performance.now();
  const dir = suiteRoot(o.rootsDir, o.suite);
  const mirror = parseMirror((await runCommand(host, mirrorCommand())).stdout);
  const check = parseRootOutcome((await runCommand(host, qemuRootCommand(dir, o.suite, mirror, 'check'))).stdout);
  const building = !check || o.refresh === true;
  const missing = (await runCommand(host, toolsCommand(building))).stdout.trim();
  if (missing) throw new Error(`${host.hostName}: a Debian ${o.suite} QEMU root needs ${missing.split('\n').join('; ')}`);
  if (building) o.log?.(`${host.hostName}: debootstrap ${o.suite} with ${QEMU_ROOT_PACKAGES.join(', ')} into ${dir} from ${mirror} (a few minutes)…`);
  const result = await runCommand(host, qemuRootCommand(dir, o.suite, mirror, o.refresh ? 'refresh' : 'ensure'));
  const outcome = parseRootOutcome(result.stdout);
  if (!outcome) throw new Error(`${host.hostName}: provisioning the ${o.suite} root in ${dir} said nothing usable: ${result.stdout.trim().slice(-200)}`);
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  const action = outcome.action === 'built' ? 'built' : 'cached';
  o.log?.(`${host.hostName}: ${o.suite} root ${dir}: ${QEMU_PACKAGE} ${outcome.version} (${action === 'built' ? `built in ${seconds} s` : 'cached'})`);
  return { suite: o.suite, host: host.hostName, root: dir, package: QEMU_PACKAGE, version: outcome.version, mirror, action, seconds };
}

/** The exact version of a package installed in a root (what the manifest records). */
export function packageVersionArgv(root: string, pkg: string = QEMU_PACKAGE): string[] {
  return ['chroot', root, '/usr/bin/dpkg-query', '-W', '-f=${Version}', pkg];
}

/** What `plan` prints for one suite root on one host. */
export function describeQemuRootSteps(rootsDir: string, suite: string): { title: string; command: HostCommand }[] {
  const dir = suiteRoot(rootsDir, suite);
  return [
    { title: 'tools and root (debootstrap and flock only when the root must be made)', command: toolsCommand(true) },
    { title: "the host's Debian mirror (MIRROR below; deb.debian.org when none)", command: mirrorCommand() },
    {
      title: `${suite} root ${dir}: reused when its ${QEMU_PACKAGE} is installed, else debootstrapped (refresh: rebuilt)`,
      command: qemuRootCommand(dir, suite, 'http://MIRROR/debian', 'ensure'),
    },
    { title: 'the exact package version for the manifest', command: argv(packageVersionArgv(dir)) },
  ];
}
