/**
 * The one scan for leftover QEMU processes on a host: our uid's processes whose program is a QEMU
 * (or a tracer of the dtrace backend, qemu/tracer.ts) and whose command line points into a given directory (a run's, or its socket directory). That
 * is the proof required before ending one: `cleanup` and a run resumed after a crash use it for
 * dead runs, the engine for processes that outlived a dropped connection. The marker arrives as
 * "$1" (data); the scan's own command line holds it too, which the program-name check rules out.
 */
import type { HostTransport } from '../hosts/transport.ts';

export interface QemuProcess {
  pid: number;
  /** Its arguments joined by spaces. */
  cmdline: string;
}

const FIND_SCRIPT = String.raw`
set -u
marker=$1
uid=$(id -u)
# one grep over every command line (NUL-separated arguments as records), then only the matches are looked at
grep -lzF -- "$marker" /proc/[0-9]*/cmdline 2>/dev/null | while IFS= read -r f; do
  d=$(dirname -- "$f")
  [ "$(stat -c %u "$d" 2>/dev/null)" = "$uid" ] || continue
  argv0=$(head -zn1 "$f" 2>/dev/null | tr -d '\0')
  cmd=$(tr '\0\n\t' '   ' < "$f" 2>/dev/null) || continue
  # QEMU, and the dtrace backend's tracers: their watchdog (bash, named vdpa-bench-tracer) and bpftrace
  case $(basename -- "$argv0") in
    *qemu* | bpftrace) ;;
    bash) case " $cmd " in *" vdpa-bench-tracer "*) ;; *) continue ;; esac ;;
    *) continue ;;
  esac
  printf '%s\t%s\n' "$(basename -- "$d")" "$cmd"
done
`;

// Re-checks the command line right before the kill: a pid can be reused between scan and kill.
const END_SCRIPT = String.raw`
set -u
pid=$1; marker=$2
cmd=$(tr '\0\n\t' '   ' < "/proc/$pid/cmdline" 2>/dev/null) || exit 0
# a process that leads its own group (the harness starts each in a session of its own) goes with its group: a tracer's children too
pgid=$(awk '{print $5}' "/proc/$pid/stat" 2>/dev/null)
case $cmd in *"$marker"*) if [ "$pgid" = "$pid" ]; then kill -9 -- "-$pid" 2>/dev/null; else kill -9 "$pid" 2>/dev/null; fi ;; *) exit 0 ;; esac
for _ in $(seq 1 50); do [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || exit 0; sleep 0.1; done
echo "pid $pid did not exit"; exit 1
`;

/** Our QEMU processes on the host whose command line contains `marker`. */
export async function findQemuProcesses(host: HostTransport, marker: string): Promise<QemuProcess[]> {
  const result = await host.script(FIND_SCRIPT, [marker], { allowFailure: true, timeoutMs: 60_000 });
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pid, ...cmdline] = line.split('\t');
      return { pid: Number(pid), cmdline: cmdline.join('\t') };
    });
}

/** Ends one process found by findQemuProcesses if its command line still contains `marker`; waits until it is gone. */
export async function endQemuProcess(host: HostTransport, pid: number, marker: string): Promise<void> {
  await host.script(END_SCRIPT, [String(pid), marker], { timeoutMs: 30_000 });
}

/** Ends every QEMU process of ours whose command line contains `marker`; returns their pids. */
export async function endQemuProcesses(host: HostTransport, marker: string): Promise<number[]> {
  const ended: number[] = [];
  for (const proc of await findQemuProcesses(host, marker)) {
    await endQemuProcess(host, proc.pid, marker);
    ended.push(proc.pid);
  }
  return ended;
}
