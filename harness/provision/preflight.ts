/**
 * Preflight: read-only checks that say, one clear message per missing piece, why a host cannot
 * run the profile. `beforeSetup` runs before anything on the host changes; `afterSetup` verifies
 * what set-up was meant to produce; the QEMU checks run once each variant's binary is known.
 */
import type { RunResult } from '../hosts/transport.ts';
import { guestMemlockBytes, PIN_OVERHEAD_BYTES } from '../profile/memlock.ts';
import { parseSize } from '../profile/size.ts';
import { parseTraceLine } from '../traces/parse.ts';
import type { HostTransport } from '../hosts/transport.ts';
import { argv, runCommand, script, type HostCommand } from '../hosts/command.ts';
import { firewallCheck, type MigrationPort } from './firewall.ts';
import { hugepageSysfsPath, modulesFor, parseEswitchMode, type VdpaHostConfig } from './steps.ts';
import { tracerChecks, type TracerKind } from './tracer-checks.ts';

export interface HostCheck {
  name: string;
  command: HostCommand;
  /** null when the check passes, else the message a lab engineer acts on. */
  evaluate(result: RunResult): string | null;
}

const HAS_TOOL = String.raw`command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ] && echo yes || echo no`;

function toolCheck(tool: string, hint: string): HostCheck {
  return {
    name: `${tool} tool`,
    command: script(HAS_TOOL, [tool]),
    evaluate: (r) => (r.stdout.trim() === 'yes' ? null : `the ${tool} command is missing (${hint})`),
  };
}

const MODULE_AVAILABLE = String.raw`
name=$(printf '%s' "$1" | tr - _)
if [ -d "/sys/module/$name" ]; then echo loaded
elif modinfo "$1" >/dev/null 2>&1; then echo installed
else echo missing; fi
`;

const MODULE_HINTS: Record<string, string> = {
  vdpa: 'CONFIG_VDPA',
  vhost_vdpa: 'CONFIG_VHOST_VDPA',
  mlx5_vdpa: 'CONFIG_MLX5_VDPA_NET',
  vdpa_sim_net: 'CONFIG_VDPA_SIM_NET; Debian does not build it: build it out of tree and load it before the run',
  vduse: 'CONFIG_VDPA_USER',
};

function moduleCheck(module: string): HostCheck {
  return {
    name: `module ${module}`,
    command: script(MODULE_AVAILABLE, [module]),
    evaluate: (r) =>
      r.stdout.trim() === 'missing'
        ? `kernel module ${module} is neither loaded nor installed for the running kernel (${MODULE_HINTS[module] ?? 'not built'})`
        : null,
  };
}

const PCI_PRESENT = String.raw`[ -d "/sys/bus/pci/devices/$1" ] && echo yes || echo no`;

/**
 * Whether QEMU can be given the memlock limit it needs: the same prlimit the launch uses, on a
 * `true` (as the host's transport runs commands: root under sudo may raise the hard limit, a
 * plain user only up to it). Prints the hard limit either way, for the message.
 */
const MEMLOCK_RAISE = String.raw`
hard=$(ulimit -H -l)
command -v prlimit >/dev/null 2>&1 || { echo "missing $hard"; exit 0; }
if out=$(prlimit --memlock="$1:$1" -- true 2>&1); then echo "raisable $hard"; exit 0; fi
who="$(id -u):$(awk '/^CapEff:/ {print $2}' /proc/self/status)"
printf 'refused %s %s %s\n' "$hard" "$who" "$(printf '%s' "$out" | tr '\n' ' ')"
`;

/** CAP_SYS_RESOURCE (24) in a /proc/PID/status CapEff mask: what lets a process raise a hard limit. */
function hasSysResource(capEff: string): boolean {
  return /^[0-9a-f]+$/i.test(capEff) && (BigInt(`0x${capEff}`) & (1n << 24n)) !== 0n;
}

const gib = (bytes: number) => `${+(bytes / 2 ** 30).toFixed(2)} GiB`;

/** `neededBytes`: the limit QEMU is launched with (profile/memlock.ts: the largest guest + overhead). */
export function memlockCheck(neededBytes: number): HostCheck {
  return {
    name: `memlock limit for QEMU: ${gib(neededBytes)}, the largest guest + ${gib(PIN_OVERHEAD_BYTES)} (prlimit --memlock=${neededBytes}:${neededBytes})`,
    command: script(MEMLOCK_RAISE, [String(neededBytes)]),
    evaluate: (r) => {
      const [verdict, hard = '?', who = '', ...said] = r.stdout.trim().split(' ');
      if (verdict === 'raisable') return null;
      const why = `vhost-vDPA pins all guest RAM: QEMU is started under prlimit --memlock=${neededBytes}:${neededBytes} (${neededBytes / 1024} KiB, ${gib(neededBytes)}: the largest guest + ${gib(PIN_OVERHEAD_BYTES)})`;
      if (verdict === 'missing') return `the prlimit command is missing (util-linux); ${why}`;
      if (verdict !== 'refused') return `cannot tell whether the memlock limit can be raised (the check printed "${r.stdout.trim()}${r.stderr.trim()}")`;
      const [uid, capEff = ''] = who.split(':');
      const remedy =
        uid === '0'
          ? hasSysResource(capEff)
            ? 'root here may raise it, yet the kernel refused: check the host'
            : 'the commands run as root but without CAP_SYS_RESOURCE (a container?), which may not raise a hard limit: start it with a higher one (--ulimit memlock=-1, LimitMEMLOCK=infinity)'
          : `the commands run as uid ${uid}: run them as root (transport sudo: true) or raise the hard limit (memlock in /etc/security/limits.conf, LimitMEMLOCK= for a service)`;
      return `memlock limit cannot be raised to ${neededBytes / 1024} KiB: the hard limit is ${hard}${hard === 'unlimited' ? '' : ' KiB'} and prlimit said "${said.join(' ').trim()}"; ${why}. ${remedy}, to at least ${neededBytes / 1024} KiB`;
    },
  };
}

export interface PreflightInput {
  config: VdpaHostConfig;
  /** The largest guest this host will run, bytes. */
  largestGuestBytes: number;
  /** The most queue pairs the profile's matrix asks of this host's devices. */
  queuePairs?: number;
  /** Where this host listens as a destination, and what the profile allows with its firewall. */
  migration?: MigrationPort;
}

export function beforeSetupChecks({ config, largestGuestBytes, queuePairs, migration }: PreflightInput): HostCheck[] {
  const checks: HostCheck[] = [toolCheck('vdpa', 'install iproute2 with the vdpa tool'), toolCheck('modprobe', 'install kmod')];
  if (config.driver === 'mlx5_vdpa') checks.push(toolCheck('devlink', 'install iproute2'));
  for (const module of modulesFor(config)) checks.push(moduleCheck(module));
  if (config.pf) {
    const pf = config.pf;
    checks.push({
      name: `PF ${pf}`,
      command: script(PCI_PRESENT, [pf]),
      evaluate: (r) => (r.stdout.trim() === 'yes' ? null : `PCI device ${pf} (the profile's pf) does not exist on this host`),
    });
  }
  checks.push(memlockCheck(guestMemlockBytes(largestGuestBytes)));
  if (queuePairs !== undefined && queuePairs > 1) checks.push(queuePairCheck(config, queuePairs));
  if (migration) checks.push(firewallCheck(migration));
  return checks;
}

const VHOST_VDPA_CHARDEV = String.raw`
for d in "/sys/bus/vdpa/devices/$1"/vhost-vdpa-*; do
  [ -e "$d" ] || continue
  n=$(basename "$d")
  if [ -c "/dev/$n" ]; then echo "/dev/$n"; exit 0; fi
done
echo missing
`;

/** Prints the device's /dev/vhost-vdpa-N (or "missing"): the kernel numbers them in creation order. */
export function vhostVdpaDeviceCommand(name: string): HostCommand {
  return script(VHOST_VDPA_CHARDEV, [name]);
}

/**
 * `vdpa -j mgmtdev show DEV`: max_supported_vqs counts data and control queues; a net device
 * with a control queue has (vqs − 1) / 2 queue pairs.
 */
export function offeredQueuePairs(json: string, mgmtdev: string): number | undefined {
  try {
    const vqs = (JSON.parse(json) as { mgmtdev?: Record<string, { max_supported_vqs?: number }> }).mgmtdev?.[mgmtdev]?.max_supported_vqs;
    return typeof vqs === 'number' ? Math.floor((vqs - 1) / 2) : undefined;
  } catch {
    return undefined;
  }
}

function queuePairCheck(config: VdpaHostConfig, wanted: number): HostCheck {
  return {
    name: `${wanted} queue pairs from ${config.managementDevice}`,
    command: argv(['vdpa', '-j', 'mgmtdev', 'show', config.managementDevice], { allowFailure: true }),
    evaluate: (r) => {
      const offered = offeredQueuePairs(r.stdout, config.managementDevice);
      // set-up creates mlx5 VFs (and loads modules): a management device not there yet is checked after set-up, by the device step
      if (offered === undefined && config.driver !== 'vdpa_sim_net') return null;
      if (offered !== undefined && offered >= wanted) return null;
      const simulator =
        config.driver === 'vdpa_sim_net'
          ? ': vdpa_sim_net has one queue pair and a control queue, and rejects max_vqp ("Some provided attributes are not supported"); multi-queue is covered only by recorded traces and `plan`'
          : '';
      return `${config.managementDevice} offers ${offered ?? 1} queue pair${offered === undefined || offered === 1 ? '' : 's'}, the profile asks for ${wanted}${simulator}`;
    },
  };
}

export function afterSetupChecks({ config, largestGuestBytes }: PreflightInput): HostCheck[] {
  const checks: HostCheck[] = [
    {
      name: `management device ${config.managementDevice}`,
      command: argv(['vdpa', '-j', 'mgmtdev', 'show'], { allowFailure: true }),
      evaluate: (r) => {
        const listed = parseMgmtdevs(r.stdout);
        return listed.includes(config.managementDevice)
          ? null
          : `vdpa mgmtdev show does not list ${config.managementDevice} (it lists: ${listed.join(', ') || 'nothing'})`;
      },
    },
  ];
  if (config.driver === 'mlx5_vdpa' && config.pf) {
    const dev = `pci/${config.pf}`;
    checks.push({
      name: `eswitch mode of ${config.pf}`,
      command: argv(['devlink', '-j', 'dev', 'eswitch', 'show', dev], { allowFailure: true }),
      evaluate: (r) => {
        const mode = parseEswitchMode(r.stdout, dev);
        return mode === 'switchdev' ? null : `eswitch of ${config.pf} is in ${mode ?? 'an unknown'} mode, vDPA on mlx5 needs switchdev`;
      },
    });
    if (config.vfCount !== undefined) {
      const want = config.vfCount;
      checks.push({
        name: `VF count of ${config.pf}`,
        command: argv(['cat', `/sys/bus/pci/devices/${config.pf}/sriov_numvfs`], { allowFailure: true }),
        evaluate: (r) => (Number(r.stdout.trim()) === want ? null : `${config.pf} has ${r.stdout.trim() || 'no'} VFs, the profile wants ${want}`),
      });
    }
  }
  if (config.hugepages) {
    const { size, count } = config.hugepages;
    const pageBytes = parseSize(size);
    const needed = Math.ceil(largestGuestBytes / pageBytes);
    checks.push({
      name: `free ${size} hugepages`,
      command: argv(['cat', hugepageSysfsPath(size).replace('nr_hugepages', 'free_hugepages')], { allowFailure: true }),
      evaluate: (r) => {
        const free = Number(r.stdout.trim());
        if (r.exitCode !== 0) return `this kernel has no ${size} hugepages (${r.stderr.trim()})`;
        if (free >= needed) return null;
        return `${free} free ${size} hugepages, the largest guest needs ${needed} (profile reserves ${count}); reserve them at boot (hugepagesz=${size} hugepages=${count}) if the kernel cannot allocate them at run time`;
      },
    });
  }
  for (const device of config.devices) {
    checks.push({
      name: `/dev/vhost-vdpa-* of ${device.name}`,
      command: vhostVdpaDeviceCommand(device.name),
      evaluate: (r) => (r.stdout.trim().startsWith('/dev/') ? null : `no /dev/vhost-vdpa-* character device for ${device.name} (is it bound to vhost_vdpa?)`),
    });
  }
  return checks;
}

/** `vdpa -j mgmtdev show`: {"mgmtdev":{"pci/0000:3b:00.2":{...},"vdpasim_net":{...}}}. */
export function parseMgmtdevs(json: string): string[] {
  try {
    return Object.keys((JSON.parse(json) as { mgmtdev?: Record<string, unknown> }).mgmtdev ?? {});
  } catch {
    return [];
  }
}

/**
 * The events a metric endpoint can use: at least one candidate of each group must exist in the
 * binary (fallbacks), e.g. [[vhost_vdpa_suspend, vhost_vdpa_reset_device], [..._enable_one, ..._ready]].
 */
export interface EventRequirement {
  purpose: string;
  anyOf: string[];
}

/**
 * `backend` is the profile's trace.backend: with `log` the binary itself must write timestamped
 * lines; with `stap` (dtrace builds) its SDT probes, the tracer and the right to trace are checked
 * (tracer-checks.ts). `tracer.sdtBinary`: the binary's path as the tracer sees it (inside a root: joined).
 */
export function qemuChecks(
  invocation: string | readonly string[],
  requirements: readonly EventRequirement[],
  backend: 'log' | 'stap' = 'log',
  labelOrOptions?: string | { label?: string; tracer?: { kind: TracerKind; sdtBinary?: string } },
): HostCheck[] {
  const { label, tracer = { kind: 'systemtap' } } = typeof labelOrOptions === 'object' ? labelOrOptions : { label: labelOrOptions };
  const run = typeof invocation === 'string' ? [invocation] : [...invocation];
  const binary = label ?? run.join(' ');
  return [
    {
      name: `QEMU ${binary}`,
      command: argv([...run, '--version'], { allowFailure: true, timeoutMs: 30_000 }),
      evaluate: (r) =>
        r.exitCode === 0 ? null : `QEMU binary ${binary} does not run (${(r.stderr || r.stdout).trim().split('\n')[0] || `exit ${r.exitCode}`})`,
    },
    {
      name: `trace events of ${binary}`,
      command: argv([...run, '-trace', 'help'], { allowFailure: true, timeoutMs: 30_000 }),
      evaluate: (r) => {
        if (r.exitCode !== 0) return `${binary} -trace help failed (exit ${r.exitCode})`;
        const known = new Set(r.stdout.split('\n').map((l) => l.trim()));
        const missing = requirements.filter((q) => !q.anyOf.some((e) => known.has(e)));
        return missing.length === 0 ? null : missing.map((q) => `${binary} has no trace event ${q.anyOf.join(' or ')} (needed for ${q.purpose})`).join('; ');
      },
    },
    ...(backend === 'log' ? [timestampProbe(run, label)] : tracerChecks(tracer.sdtBinary ?? run[run.length - 1], binary, requirements, tracer.kind)),
  ];
}

const QMP_QUIT = '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n';

/**
 * Starts the binary with no machine and the log backend on stderr, quits over QMP and looks for a
 * timestamped runstate_set line: a dtrace-only build prints nothing, a build without
 * `-msg timestamp=on` support prints lines without time.
 */
export function timestampProbe(invocation: string | readonly string[], label?: string): HostCheck {
  const run = typeof invocation === 'string' ? [invocation] : [...invocation];
  const binary = label ?? run.join(' ');
  return {
    name: `timestamped trace output of ${binary}`,
    command: argv([...run, '-machine', 'none', '-nodefaults', '-display', 'none', '-msg', 'timestamp=on', '-trace', 'enable=runstate_set', '-qmp', 'stdio'], {
      input: QMP_QUIT,
      allowFailure: true,
      timeoutMs: 30_000,
    }),
    evaluate: (r) => {
      const lines = r.stderr.split('\n').filter((l) => l.includes('runstate_set'));
      if (lines.length === 0)
        return `${binary} wrote no runstate_set trace line with -trace: it has no log trace backend; if it is a dtrace build (RHEL/Fedora qemu-kvm: readelf -n shows stapsdt notes), this QEMU has only the dtrace backend: set trace.backend: stap`;
      if (!lines.some((l, i) => parseTraceLine(l, i + 1))) return `${binary} writes trace lines without a wall-clock timestamp ("${lines[0].slice(0, 80)}")`;
      return null;
    },
  };
}

export function traceFormatOf(stderr: string): string | undefined {
  for (const [i, l] of stderr.split('\n').entries()) {
    const e = parseTraceLine(l, i + 1);
    if (e) return e.format;
  }
  return undefined;
}

export class PreflightError extends Error {
  constructor(readonly problems: string[]) {
    super(`preflight found ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  ${problems.join('\n  ')}`);
    this.name = 'PreflightError';
  }
}

/** Runs every check (none stops the others) and returns one message per failed check. */
export async function runChecks(host: HostTransport, checks: readonly HostCheck[]): Promise<string[]> {
  const problems: string[] = [];
  for (const check of checks) {
    let message: string | null;
    try {
      message = check.evaluate(await runCommand(host, check.command));
    } catch (error) {
      message = `${check.name}: ${(error as Error).message}`;
    }
    if (message) problems.push(`${host.hostName}: ${message}`);
  }
  return problems;
}
