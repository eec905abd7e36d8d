/**
 * Preflight for the dtrace backend (trace.backend stap), per host and QEMU binary: the binary has
 * the SDT probes the metric needs (readelf -n: its stapsdt notes), the profile's tracer runs, and
 * the user may trace. Each message names the package or setting that fixes it: RHEL/CentOS/Fedora
 * `qemu-kvm-tools` (qemu-trace-stap) + `systemtap` (+ kernel-devel for the running kernel);
 * Debian `systemtap` or `bpftrace`.
 */
import { script, type HostCommand } from '../hosts/command.ts';
import type { RunResult } from '../hosts/transport.ts';
import { TRACER_READY_EVENT } from '../traces/tracer-output.ts';

export type TracerKind = 'systemtap' | 'bpftrace';

/** preflight.ts's HostCheck and EventRequirement (the same shapes; preflight imports this module). */
interface HostCheck {
  name: string;
  command: HostCommand;
  evaluate(result: RunResult): string | null;
}
interface EventRequirement {
  purpose: string;
  anyOf: string[];
}

/** The SDT probe names of a binary, one per line (provider qemu), from its ELF notes. */
const SDT_PROBES = String.raw`
command -v readelf >/dev/null 2>&1 || { echo "no-readelf"; exit 0; }
bin=$1
case $bin in /*) ;; *) bin=$(command -v -- "$bin") || { echo "no-binary"; exit 0; } ;; esac
readelf -n -- "$bin" 2>/dev/null | awk '/stapsdt/ { sdt = 1; next } sdt && $1 == "Provider:" { p = $2; next } sdt && $1 == "Name:" { print p ":" $2; sdt = 0 }'
echo "end"
`;

/** The binary's SDT probes cover every requirement (or it has none at all: not a dtrace build). */
export function sdtProbeCheck(binary: string, label: string, requirements: readonly EventRequirement[]): HostCheck {
  return {
    name: `SDT probes of ${label}`,
    command: script(SDT_PROBES, [binary], { allowFailure: true, timeoutMs: 60_000 }),
    evaluate: (r) => {
      const out = r.stdout.trim();
      if (out.startsWith('no-readelf')) return `readelf is missing (it reads ${label}'s SDT notes: install binutils)`;
      if (out.startsWith('no-binary')) return `${label} is not on the PATH`;
      const probes = new Set(
        out
          .split('\n')
          .filter((l) => l.startsWith('qemu:'))
          .map((l) => l.slice('qemu:'.length)),
      );
      if (probes.size === 0) {
        return `${label} has no SDT probes (readelf -n finds no stapsdt notes): it is not a dtrace build; set trace.backend: log, or use a QEMU configured with --enable-trace-backends=dtrace (RHEL/Fedora qemu-kvm)`;
      }
      // the readiness proof (qemu/traced.ts): QMP command tracing, QEMU 6.2 and later; bpftrace refuses a probe the binary lacks
      const ready = { purpose: 'proving the tracer attached (QMP command tracing, QEMU 6.2+)', anyOf: [TRACER_READY_EVENT] };
      const missing = [...requirements, ready].filter((q) => !q.anyOf.some((e) => probes.has(e)));
      return missing.length === 0
        ? null
        : missing.map((q) => `${label} has no SDT probe qemu:${q.anyOf.join(' or qemu:')} (needed for ${q.purpose})`).join('; ');
    },
  };
}

const TRACER_RUNS = String.raw`
kind=$1
if [ "$kind" = systemtap ]; then
  command -v qemu-trace-stap >/dev/null 2>&1 || { echo "missing qemu-trace-stap"; exit 0; }
  command -v stap >/dev/null 2>&1 || { echo "missing stap"; exit 0; }
  [ -d "/lib/modules/$(uname -r)/build" ] || { echo "no-headers $(uname -r)"; exit 0; }
  stap -V 2>&1 | head -n1
else
  command -v bpftrace >/dev/null 2>&1 || { echo "missing bpftrace"; exit 0; }
  command -v perl >/dev/null 2>&1 || { echo "missing perl"; exit 0; }
  [ -r /sys/kernel/btf/vmlinux ] || echo "warning: no /sys/kernel/btf/vmlinux"
  # nsecs(sw_tai) is the capture's clock: bpftrace before 0.20 (bookworm's 0.17) does not know it
  out=$(timeout 120 bpftrace -e 'BEGIN { printf("vdpa-bench-bpf-ok %llu\n", nsecs(sw_tai)); exit(); }' 2>&1) || { echo "bpf-fails $(bpftrace --version 2>&1 | head -n1): $out" | tr '\n' ' '; exit 0; }
  case $out in *vdpa-bench-bpf-ok*) bpftrace --version 2>&1 | head -n1 ;; *) echo "bpf-fails $out" | tr '\n' ' ' ;; esac
fi
`;

/** The tracer is installed and can run on this host's kernel. */
export function tracerRunsCheck(kind: TracerKind): HostCheck {
  return {
    name: `${kind} runs`,
    command: script(TRACER_RUNS, [kind], { allowFailure: true, timeoutMs: 180_000 }),
    evaluate: (r) => {
      const out = r.stdout.trim();
      if (out.startsWith('missing qemu-trace-stap'))
        return 'qemu-trace-stap is missing (trace.tracer systemtap runs it: RHEL/CentOS/Fedora package qemu-kvm-tools; on Debian use trace.tracer: bpftrace)';
      if (out.startsWith('missing stap')) return 'stap is missing (package systemtap, and kernel-devel for the running kernel on RHEL)';
      if (out.startsWith('no-headers'))
        return `SystemTap needs the kernel headers of the running kernel ${out.split(' ')[1]} (/lib/modules/${out.split(' ')[1]}/build is missing: RHEL kernel-devel-${out.split(' ')[1]}, Debian linux-headers-${out.split(' ')[1]})`;
      if (out.startsWith('missing bpftrace')) return 'bpftrace is missing (package bpftrace)';
      if (out.startsWith('missing perl')) return 'perl is missing (the bpftrace capture reads the kernel TAI offset with it: package perl-base / perl)';
      if (out.startsWith('bpf-fails')) return `bpftrace cannot run a BPF program here: ${out.slice('bpf-fails '.length).slice(0, 300)}`;
      return out ? null : `${kind} printed nothing (exit ${r.exitCode})`;
    },
  };
}

const MAY_TRACE = String.raw`
echo "uid $(id -u)"
echo "groups $(id -Gn)"
`;

/** Root traces; SystemTap also lets the stapusr/stapdev groups (with a signed or pre-built module on RHEL). */
export function mayTraceCheck(kind: TracerKind): HostCheck {
  return {
    name: `user may trace with ${kind}`,
    command: script(MAY_TRACE, [], { allowFailure: true }),
    evaluate: (r) => {
      const uid = /uid (\d+)/.exec(r.stdout)?.[1];
      if (uid === undefined) return `could not read the user's id (exit ${r.exitCode})`;
      if (uid === '0') return null;
      const groups = (/groups (.*)/.exec(r.stdout)?.[1] ?? '').split(/\s+/);
      if (kind === 'systemtap' && groups.some((g) => g === 'stapdev' || g === 'stapusr')) return null;
      return kind === 'systemtap'
        ? `user ${uid} may not run SystemTap: run the harness as root on that host, or add the user to stapdev (stapusr with signed modules)`
        : `user ${uid} may not run bpftrace: it needs root on that host (or CAP_BPF and CAP_PERFMON)`;
    },
  };
}

/** Every dtrace-backend check for one QEMU binary on one host. */
export function tracerChecks(binary: string, label: string, requirements: readonly EventRequirement[], kind: TracerKind): HostCheck[] {
  return [sdtProbeCheck(binary, label, requirements), tracerRunsCheck(kind), mayTraceCheck(kind)];
}
