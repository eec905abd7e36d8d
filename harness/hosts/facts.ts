/**
 * Host facts for the manifest, gathered through the host's transport. Whether KVM works is not a
 * host fact: it depends on the QEMU and CPU model, and is probed with the run's own (kvm-probe.ts).
 */
import type { HostFacts } from '../results/types.ts';
import { gatherTimeSync } from './timesync.ts';
import type { HostTransport } from './transport.ts';

const FACTS_SCRIPT = String.raw`
echo "kernel=$(uname -r)"
echo "cpus=$(nproc 2>/dev/null)"
echo "cpuModel=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
echo "memTotalKiB=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null)"
echo "cmdline=$(cat /proc/cmdline 2>/dev/null)"
echo "biosVersion=$(cat /sys/class/dmi/id/bios_version 2>/dev/null)"
echo "biosDate=$(cat /sys/class/dmi/id/bios_date 2>/dev/null)"
echo "uid=$(id -u)"
echo "user=$(id -un)"
echo "sudoUser=$SUDO_USER"
`;

export async function gatherHostFacts(host: HostTransport): Promise<HostFacts> {
  const result = await host.script(FACTS_SCRIPT, [], { timeoutMs: 30_000 });
  const kv = parseKeyValues(result.stdout);
  return {
    name: host.hostName,
    transport: host.kind,
    kernel: kv.kernel,
    cpuModel: kv.cpuModel || undefined,
    cpus: kv.cpus ? Number(kv.cpus) : undefined,
    memTotalKiB: kv.memTotalKiB ? Number(kv.memTotalKiB) : undefined,
    kernelCmdline: kv.cmdline,
    // firmware is part of a lab's fingerprint: a BIOS update can move downtime
    ...(kv.biosVersion ? { biosVersion: kv.biosVersion } : {}),
    ...(kv.biosDate ? { biosDate: kv.biosDate } : {}),
    ...(kv.uid ? { runsAs: { uid: Number(kv.uid), user: kv.user, ...(kv.sudoUser ? { sudoFrom: kv.sudoUser } : {}) } } : {}),
    timeSync: { ...(await gatherTimeSync(host)) },
  };
}

export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** First line of `<binary> --version`, or an error that says how to get QEMU. */
export async function qemuVersion(host: HostTransport, binary: string | readonly string[]): Promise<string> {
  const result = await host.run([...invocation(binary), '--version'], { allowFailure: true, timeoutMs: 30_000 });
  if (result.exitCode !== 0) {
    throw new Error(
      `${host.hostName}: QEMU binary "${invocation(binary).join(' ')}" does not run (${(result.stderr || result.stdout).trim().split('\n')[0] || `exit ${result.exitCode}`})`,
    );
  }
  return result.stdout.split('\n')[0].trim();
}

/** Event names this QEMU binary can trace (`-trace help`). */
export async function qemuTraceEvents(host: HostTransport, binary: string | readonly string[]): Promise<Set<string>> {
  const result = await host.run([...invocation(binary), '-trace', 'help'], { allowFailure: true, timeoutMs: 30_000 });
  if (result.exitCode !== 0) throw new Error(`${host.hostName}: \`${binary} -trace help\` failed: ${result.stderr.trim().split('\n')[0]}`);
  return new Set(
    result.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^[A-Za-z0-9_]+$/.test(l)),
  );
}

/** Splits requested event patterns into those the binary has and those it lacks (globs match any). */
export function availableTraceEvents(requested: readonly string[], known: ReadonlySet<string>): { enabled: string[]; missing: string[] } {
  const enabled: string[] = [];
  const missing: string[] = [];
  for (const pattern of requested) {
    const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    const present = pattern.includes('*') ? [...known].some((e) => re.test(e)) : known.has(pattern);
    (present ? enabled : missing).push(pattern);
  }
  return { enabled, missing };
}

/** A binary name, or a full invocation such as `chroot DIR binary`. */
function invocation(binary: string | readonly string[]): readonly string[] {
  return typeof binary === 'string' ? [binary] : binary;
}
