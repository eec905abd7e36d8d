/**
 * `softlab up` / `softlab down`: the lab VM as a detached QEMU process (TCG) on this machine,
 * sshd reachable only on 127.0.0.1:<port>. The image is opened with snapshot=on, so every boot
 * starts from the built image and nothing a run does survives `down`.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { QmpClient } from '../qemu/qmp.ts';
import { labVmNumaArgs } from './numa-topology.ts';
import { LAB } from './paths.ts';
import { DEFAULT_SSH_PORT, softlabPaths, THP_MODES, type SoftlabPaths, type ThpMode } from './paths.ts';

export { DEFAULT_SSH_PORT, THP_MODES, type ThpMode };

export const LAB_VM_NAME = 'vdpa-bench-softlab';

/**
 * One lab VM on this machine: its QEMU name (how down/status recognise the process), its run
 * directory (pid, console, QMP socket, state) and its known_hosts file. One-VM mode has one
 * instance; the two-host lab (pair.ts) has two, joined by a private link.
 */
export interface LabInstance {
  vmName: string;
  run: string;
  knownHosts: string;
  /** Second NIC on a QEMU stream netdev over a unix socket: the migration link. */
  link?: { socket: string; server: boolean; mac: string };
}

export function singleInstance(paths: SoftlabPaths): LabInstance {
  return { vmName: LAB_VM_NAME, run: paths.run, knownHosts: paths.knownHosts };
}

function instanceFiles(i: LabInstance) {
  return { pidFile: join(i.run, 'qemu.pid'), consoleLog: join(i.run, 'console.log'), stateFile: join(i.run, 'state.json'), qmpSocket: join(i.run, 'qmp.sock') };
}

export interface LabVmSettings {
  port: number;
  memory: string;
  cpus: number;
  /** QEMU that runs the lab VM on this machine. */
  qemu: string;
  /** Guest NUMA nodes (default 1): a real lab host has two sockets, and a NUMA placement (hosts[].numa) needs a second node to mean anything. */
  numaNodes?: number;
}

export interface LabVmState {
  pid: number;
  host: string;
  port: number;
  user: string;
  identityFile: string;
  knownHostsFile: string;
  qmpSocket: string;
  startedAt: string;
  bootSeconds: number;
  checks: LabChecks;
}

export interface LabChecks {
  kernel: string;
  loopbackUp: boolean;
  memlock: string;
  mgmtdevs: string[];
  modules: string[];
  qemu: { system: string; sid: string };
  /** /sys/kernel/mm/transparent_hugepage/enabled, e.g. "[always] madvise never". */
  thp?: string;
}

// Not quiet: the console log is the only record of a boot that goes wrong.
export const KERNEL_APPEND = 'root=/dev/vda rw console=ttyS0 mitigations=off systemd.show_status=1';

/** The lab VM's QEMU command line (pure; argv, never a shell string). */
export function labVmArgs(paths: SoftlabPaths, s: LabVmSettings, qmpSocket: string, instance: LabInstance = singleInstance(paths)): string[] {
  const files = instanceFiles(instance);
  const link = instance.link
    ? [
        '-netdev',
        `stream,id=link,server=${instance.link.server ? 'on' : 'off'},addr.type=unix,addr.path=${instance.link.socket.replaceAll(',', ',,')}`,
        '-device',
        `virtio-net-pci,netdev=link,mac=${instance.link.mac}`,
      ]
    : [];
  return [
    s.qemu,
    '-name',
    instance.vmName,
    '-nodefaults',
    '-display',
    'none',
    '-machine',
    'q35',
    '-accel',
    'tcg,thread=multi',
    '-cpu',
    'max',
    '-smp',
    String(s.cpus),
    '-m',
    s.memory,
    ...labVmNumaArgs(s.memory, s.cpus, s.numaNodes),
    '-kernel',
    paths.kernel,
    '-initrd',
    paths.initrd,
    '-append',
    KERNEL_APPEND,
    '-drive',
    `file=${paths.image.replaceAll(',', ',,')},format=raw,if=virtio,snapshot=on`,
    '-netdev',
    `user,id=n0,hostfwd=tcp:127.0.0.1:${s.port}-:22`,
    '-device',
    'virtio-net-pci,netdev=n0',
    ...link,
    '-serial',
    `file:${files.consoleLog}`,
    '-qmp',
    `unix:${qmpSocket.replaceAll(',', ',,')},server=on,wait=off`,
    '-pidfile',
    files.pidFile,
    '-daemonize',
  ];
}

export function sshArgs(state: Pick<LabVmState, 'host' | 'port' | 'user' | 'identityFile' | 'knownHostsFile'>, remote: readonly string[]): string[] {
  return [
    'ssh',
    '-i',
    state.identityFile,
    '-p',
    String(state.port),
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `UserKnownHostsFile=${state.knownHostsFile}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'ConnectTimeout=5',
    '-o',
    'LogLevel=ERROR',
    `${state.user}@${state.host}`,
    ...remote,
  ];
}

/** Checks run inside the lab VM once sshd answers; one `key=value` per line. */
export const CHECK_SCRIPT = `set -u
echo "kernel=$(uname -r)"
ip -o link show lo | grep -q 'state UNKNOWN\\|,UP' && echo loopback=up || echo loopback=down
echo "memlock=$(ulimit -l)"
vdpa mgmtdev show 2>/dev/null | sed -n 's/^\\([^: ]*\\):.*/mgmtdev=\\1/p'
for m in vhost_vdpa vdpa_sim vdpa_sim_net vringh; do
  [ -d /sys/module/$m ] && echo "module=$m"
done
echo "qemu_system=$(qemu-system-x86_64 --version | head -1)"
echo "qemu_sid=$(chroot ${LAB.sidChroot} qemu-system-x86_64 --version | head -1)"
`;

export function parseChecks(text: string): LabChecks {
  const values = (k: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${k}=`))
      .map((l) => l.slice(k.length + 1).trim());
  return {
    kernel: values('kernel')[0] ?? '',
    loopbackUp: values('loopback')[0] === 'up',
    memlock: values('memlock')[0] ?? '',
    mgmtdevs: values('mgmtdev'),
    modules: values('module'),
    qemu: { system: values('qemu_system')[0] ?? '', sid: values('qemu_sid')[0] ?? '' },
  };
}

/** What is wrong with a booted lab VM, as sentences; empty when it is ready. */
export function checkProblems(c: LabChecks): string[] {
  const problems: string[] = [];
  if (!c.loopbackUp) problems.push('loopback is down (migrations over 127.0.0.1 would fail: "Network is unreachable")');
  if (c.memlock !== 'unlimited')
    problems.push(`RLIMIT_MEMLOCK is ${c.memlock || 'unknown'} KiB, not unlimited (dma_map of guest RAM fails: "vhost vdpa map fail!")`);
  if (!c.mgmtdevs.includes('vdpasim_net')) problems.push('vdpa mgmtdev show does not list vdpasim_net (vdpa_sim_net not loaded?)');
  for (const m of ['vhost_vdpa', 'vdpa_sim', 'vdpa_sim_net', 'vringh']) if (!c.modules.includes(m)) problems.push(`module ${m} is not loaded`);
  if (!/QEMU emulator version 10\.0\./.test(c.qemu.system)) problems.push(`trixie QEMU is not 10.0.x: ${c.qemu.system || 'not found'}`);
  if (!/QEMU emulator version 11\./.test(c.qemu.sid)) problems.push(`sid QEMU (chroot ${LAB.sidChroot}) is not 11.x: ${c.qemu.sid || 'not found'}`);
  return problems;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Only a process that is our lab VM (by its -name) is ever signalled. */
async function isLabVm(pid: number, vmName: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0').includes(vmName);
}

export async function readState(paths: SoftlabPaths = softlabPaths(), instance: LabInstance = singleInstance(paths)): Promise<LabVmState | null> {
  const state = await readFile(instanceFiles(instance).stateFile, 'utf8').then(
    (t) => JSON.parse(t) as LabVmState,
    () => null,
  );
  if (!state) return null;
  return pidAlive(state.pid) && (await isLabVm(state.pid, instance.vmName)) ? state : null;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sets the lab VM's transparent-huge-page mode; prints the mode in force (e.g. "always madvise [never]"). */
const THP_SCRIPT = String.raw`
case "$1" in always|madvise|never) ;; *) echo "bad THP mode" >&2; exit 2 ;; esac
echo "$1" > /sys/kernel/mm/transparent_hugepage/enabled
cat /sys/kernel/mm/transparent_hugepage/enabled
`;

type LabUpSettings = Partial<LabVmSettings> & { print: (line: string) => void; bootTimeoutMs?: number; thp?: ThpMode };

export async function labUp(settings: LabUpSettings, paths: SoftlabPaths = softlabPaths(), instance: LabInstance = singleInstance(paths)): Promise<LabVmState> {
  const files = instanceFiles(instance);
  const running = await readState(paths, instance);
  if (running) {
    settings.print(`${instance.vmName} already up (pid ${running.pid}, port ${running.port})`);
    return running;
  }
  for (const f of [paths.image, paths.kernel, paths.initrd, paths.sshKey, paths.hostKeyPub]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run \`vdpa-bench softlab build\` first`);
  }
  const s: LabVmSettings = {
    port: settings.port ?? DEFAULT_SSH_PORT,
    memory: settings.memory ?? '6G',
    cpus: settings.cpus ?? 2,
    qemu: settings.qemu ?? 'qemu-system-x86_64',
    numaNodes: settings.numaNodes ?? 1,
  };
  if (!(await portFree(s.port))) throw new Error(`127.0.0.1:${s.port} is in use: pick another with --port`);
  await clearRunFiles(paths, instance, s.port);

  const started = performance.now();
  settings.print(
    `booting ${instance.vmName} (TCG, ${s.cpus} vCPUs, ${s.memory}${s.numaNodes! > 1 ? ` on ${s.numaNodes} NUMA nodes` : ''}; console ${files.consoleLog})`,
  );
  const argv = labVmArgs(paths, s, files.qmpSocket, instance);
  const launched = await execa(argv[0], argv.slice(1), { reject: false });
  if (launched.exitCode !== 0) throw new Error(`${instance.vmName} did not start: ${String(launched.stderr).trim()}`);
  const pid = Number((await readFile(files.pidFile, 'utf8')).trim());

  const boot: LabBoot = {
    settings,
    paths,
    instance,
    pid,
    base: { host: '127.0.0.1', port: s.port, user: 'root', identityFile: paths.sshKey, knownHostsFile: instance.knownHosts },
  };
  await waitForSshd(boot);
  const bootSeconds = (performance.now() - started) / 1000;
  const checks = await checkLabVm(boot);
  const state: LabVmState = { pid, ...boot.base, qmpSocket: files.qmpSocket, startedAt: new Date().toISOString(), bootSeconds, checks };
  await writeFile(files.stateFile, JSON.stringify(state, null, 2) + '\n');
  return state;
}

/** What a killed lab may have left is removed; the known-hosts file pins the image's host key on this port. */
async function clearRunFiles(paths: SoftlabPaths, instance: LabInstance, port: number): Promise<void> {
  const files = instanceFiles(instance);
  await mkdir(instance.run, { recursive: true });
  await rm(files.pidFile, { force: true });
  await rm(files.consoleLog, { force: true });
  // a server's stale socket from a killed lab would refuse the bind
  if (instance.link?.server) await rm(instance.link.socket, { force: true });
  const hostKey = (await readFile(paths.hostKeyPub, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
  await writeFile(instance.knownHosts, `[127.0.0.1]:${port} ${hostKey}\n`);
}

/** A lab VM that is booting: its process, and how to reach its sshd. */
interface LabBoot {
  settings: LabUpSettings;
  paths: SoftlabPaths;
  instance: LabInstance;
  pid: number;
  base: Omit<LabVmState, 'pid' | 'qmpSocket' | 'startedAt' | 'bootSeconds' | 'checks'>;
}

/** Polls sshd until it answers; a VM that dies or stays silent past the timeout is stopped and reported with its console. */
async function waitForSshd({ settings, paths, instance, pid, base }: LabBoot): Promise<void> {
  const files = instanceFiles(instance);
  const deadline = Date.now() + (settings.bootTimeoutMs ?? 240_000);
  let lastError = '';
  for (;;) {
    if (!pidAlive(pid)) throw new Error(`${instance.vmName} exited during boot; console: ${files.consoleLog}`);
    const probe = await execa(sshArgs(base, ['true'])[0], sshArgs(base, ['true']).slice(1), { reject: false, timeout: 15_000 });
    if (probe.exitCode === 0) return;
    lastError = String(probe.stderr).trim();
    if (Date.now() > deadline) {
      await labDown({ print: settings.print }, paths, instance);
      throw new Error(
        `sshd in ${instance.vmName} did not answer within ${(settings.bootTimeoutMs ?? 240_000) / 1000} s (${lastError}); console: ${files.consoleLog}`,
      );
    }
    await sleep(1000);
  }
}

/** The booted VM's checks (kernel, QEMU, vDPA, memlock), with THP set first when asked; an unusable VM is stopped. */
async function checkLabVm({ settings, paths, instance, base }: LabBoot): Promise<LabVmState['checks']> {
  const check = await execa(sshArgs(base, ['bash', '-s'])[0], sshArgs(base, ['bash', '-s']).slice(1), { input: CHECK_SCRIPT, reject: false, timeout: 60_000 });
  const checks = parseChecks(String(check.stdout));
  const problems = checkProblems(checks);
  if (problems.length > 0) {
    await labDown({ print: settings.print }, paths, instance);
    throw new Error(
      `${instance.vmName} booted but is not usable:\n  ${problems.join('\n  ')}${check.stderr ? `\n  (stderr: ${String(check.stderr).trim()})` : ''}`,
    );
  }
  if (settings.thp) {
    const thp = await execa(sshArgs(base, ['bash', '-s', '--', settings.thp])[0], sshArgs(base, ['bash', '-s', '--', settings.thp]).slice(1), {
      input: THP_SCRIPT,
      reject: false,
      timeout: 30_000,
    });
    if (thp.exitCode !== 0) throw new Error(`setting THP to ${settings.thp} failed: ${String(thp.stderr).trim()}`);
  }
  const thpNow = await execa(
    sshArgs(base, ['cat', '/sys/kernel/mm/transparent_hugepage/enabled'])[0],
    sshArgs(base, ['cat', '/sys/kernel/mm/transparent_hugepage/enabled']).slice(1),
    { reject: false, timeout: 30_000 },
  );
  checks.thp = String(thpNow.stdout).trim();
  return checks;
}

export async function labDown(
  o: { print: (line: string) => void },
  paths: SoftlabPaths = softlabPaths(),
  instance: LabInstance = singleInstance(paths),
): Promise<boolean> {
  const files = instanceFiles(instance);
  const pid = Number(await readFile(files.pidFile, 'utf8').catch(() => ''));
  if (!pid || !pidAlive(pid) || !(await isLabVm(pid, instance.vmName))) {
    await rm(files.stateFile, { force: true });
    o.print(`${instance.vmName} is not running`);
    return false;
  }
  const qmpSocket = files.qmpSocket;
  try {
    const socket = createConnection(qmpSocket);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const qmp = await QmpClient.connect(socket, 5_000);
    await qmp.execute('quit').catch(() => undefined);
    qmp.close();
  } catch {
    process.kill(pid, 'SIGTERM');
  }
  for (let i = 0; i < 100 && pidAlive(pid); i++) await sleep(100);
  if (pidAlive(pid) && (await isLabVm(pid, instance.vmName))) process.kill(pid, 'SIGKILL');
  await rm(files.stateFile, { force: true });
  o.print(`${instance.vmName} stopped (pid ${pid})`);
  return true;
}
