/**
 * Whether KVM works for one QEMU on one host, asked of that QEMU itself: the invocation the run
 * will launch (a Debian root's QEMU through its chroot wrapper, a build, the host's binary) boots
 * the firmware with `-accel kvm` and the profile's CPU model and machine. An accessible /dev/kvm
 * is not proof: a PVM-based KVM, or one that refuses -cpu host's MSRs ("failed to set MSR 0x10a"
 * and an abort), fails a QEMU that the device check would pass.
 *
 * Three verdicts. `usable`: the firmware wrote to its debug port under KVM. `unusable`: /dev/kvm
 * is absent or inaccessible, or the KVM boot ended while the same boot under TCG ran (so the
 * failure is KVM's, not the probe's). `unknown`: the probe could not tell (the boot failed under
 * TCG too, stayed silent, or the probe did not run); never taken for usable.
 */
import type { HostTransport } from './transport.ts';

export type KvmVerdict = 'usable' | 'unusable' | 'unknown';

export interface KvmProbeResult {
  verdict: KvmVerdict;
  reason: string;
}

/** What the probe boots with: the profile's machine and CPU model (the run's defaults when unset). */
export interface KvmProbeTarget {
  /** The QEMU invocation the run launches (binary, or the root wrapper and the binary inside). */
  invocation: readonly string[];
  /** A short name for it in reasons (`BINARY in ROOT`). */
  label: string;
  machine: string;
  cpuModel?: string;
}

/** How long a boot may take to reach the firmware: a loaded 2-core host under TCG takes ~2 s through a root. */
const PROBE_DEADLINE_TENTHS = 150;

/**
 * `$1` is the deadline in tenths of a second, the rest QEMU's argv. Constant text: every value is
 * a positional parameter. SeaBIOS writes its log to I/O port 0x402 (QEMU's debugcon): any byte
 * there means guest code ran. The file lives in /tmp, which every QEMU root binds at /tmp.
 */
const PROBE_SCRIPT = String.raw`
if [ ! -e /dev/kvm ]; then echo "device=absent"; exit 0; fi
if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then echo "device=no-access"; exit 0; fi
echo "device=accessible"
tenths=$1; shift
dir=$(mktemp -d /tmp/vdpa-bench-kvm-probe.XXXXXX) || { echo "state=no-tempdir"; exit 0; }
"$@" -debugcon "file:$dir/firmware.log" -global isa-debugcon.iobase=0x402 >/dev/null 2>"$dir/stderr" &
pid=$!
i=0
while [ "$i" -lt "$tenths" ] && [ ! -s "$dir/firmware.log" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
if [ -s "$dir/firmware.log" ]; then state=ran; elif kill -0 "$pid" 2>/dev/null; then state=silent; else state=exited; fi
kill -KILL "$pid" 2>/dev/null
wait "$pid"; rc=$?
echo "state=$state"
echo "rc=$rc"
echo "seconds=$((i / 10)).$((i % 10))"
echo "firmware=$(head -n 1 "$dir/firmware.log" 2>/dev/null)"
grep -v 'warning:' "$dir/stderr" | head -n 3 | sed 's/^/stderr=/'
rm -rf -- "$dir"
`;

interface BootOutcome {
  device?: string;
  state?: string;
  firmware: string;
  stderr: string;
  seconds?: string;
  /** Set when the probe script itself did not run. */
  failure?: string;
}

function bootArgs(target: KvmProbeTarget, accel: 'kvm' | 'tcg'): string[] {
  // the CPU model a launch uses when the profile names none (qemu/command.ts)
  const cpu = target.cpuModel ?? (accel === 'kvm' ? 'host' : 'max');
  return [...target.invocation, '-accel', accel, '-cpu', cpu, '-machine', target.machine, '-m', '16', '-nodefaults', '-display', 'none', '-no-reboot'];
}

async function boot(host: HostTransport, target: KvmProbeTarget, accel: 'kvm' | 'tcg'): Promise<BootOutcome> {
  try {
    const result = await host.script(PROBE_SCRIPT, [String(PROBE_DEADLINE_TENTHS), ...bootArgs(target, accel)], { allowFailure: true, timeoutMs: 60_000 });
    if (result.exitCode !== 0)
      return { firmware: '', stderr: '', failure: `the probe script exited ${result.exitCode}: ${result.stderr.trim().split('\n')[0] ?? ''}` };
    const lines = result.stdout.split('\n');
    const value = (key: string) => lines.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);
    const stderr = lines
      .filter((l) => l.startsWith('stderr='))
      .map((l) => l.slice('stderr='.length).trim())
      .join(' | ');
    return { device: value('device'), state: value('state'), firmware: value('firmware') ?? '', stderr, seconds: value('seconds') };
  } catch (error) {
    return { firmware: '', stderr: '', failure: (error as Error).message.split('\n')[0] };
  }
}

/** The KVM verdict for one QEMU invocation on one host, with the reason in words a lab engineer can check. */
export async function probeKvm(host: HostTransport, target: KvmProbeTarget): Promise<KvmProbeResult> {
  const what = `a firmware boot of ${target.label} with ${bootArgs(target, 'kvm')
    .slice(target.invocation.length, target.invocation.length + 6)
    .join(' ')}`;
  const kvm = await boot(host, target, 'kvm');
  if (kvm.failure) return { verdict: 'unknown', reason: `the KVM probe did not run (${kvm.failure})` };
  if (kvm.device === 'absent') return { verdict: 'unusable', reason: '/dev/kvm does not exist' };
  if (kvm.device === 'no-access') return { verdict: 'unusable', reason: '/dev/kvm exists but is not a readable and writable character device' };
  if (kvm.state === 'ran') return { verdict: 'usable', reason: `${what} ran (${kvm.firmware.trim() || 'firmware output'} after ${kvm.seconds} s)` };
  if (kvm.state === 'silent') return { verdict: 'unknown', reason: `${what} showed no firmware output within ${PROBE_DEADLINE_TENTHS / 10} s` };
  if (kvm.state !== 'exited') return { verdict: 'unknown', reason: `the KVM probe could not start (${kvm.state ?? 'no state reported'})` };
  // the KVM boot ended: KVM's fault only if the same boot runs without it
  const tcg = await boot(host, target, 'tcg');
  const said = kvm.stderr || 'no message';
  if (tcg.state === 'ran') return { verdict: 'unusable', reason: `${what} failed: ${said} (the same boot under TCG ran)` };
  return {
    verdict: 'unknown',
    reason: `${what} failed: ${said}; under TCG it did not run either (${tcg.failure ?? (tcg.stderr || tcg.state)}), so the probe cannot tell`,
  };
}
