/**
 * Steps a lab host's wall clock by an exact amount, for testing the cross-host clock estimate:
 * clock_adjtime(CLOCK_REALTIME, ADJ_SETOFFSET) adds the step atomically inside the kernel, so the
 * clock moves by exactly that much (`date -s` would read, parse and set, losing the time between).
 * The helper is compiled in the lab VM (gcc is in the image) once per boot.
 */
import type { HostTransport } from '../hosts/transport.ts';

const STEP_SOURCE = String.raw`#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/timex.h>
#include <time.h>
int main(int argc, char **argv) {
  if (argc != 2) return 2;
  long long ns = atoll(argv[1]);
  long long sec = ns / 1000000000LL, frac = ns % 1000000000LL;
  if (frac < 0) { sec -= 1; frac += 1000000000LL; }
  struct timex t = {0};
  t.modes = ADJ_SETOFFSET | ADJ_NANO;
  t.time.tv_sec = sec;
  t.time.tv_usec = frac; /* nanoseconds with ADJ_NANO */
  if (clock_adjtime(CLOCK_REALTIME, &t) < 0) { perror("clock_adjtime(ADJ_SETOFFSET)"); return 1; }
  return 0;
}
`;

export const STEP_SCRIPT = `set -eu
case "$1" in ''|*[!0-9-]*) echo "not a step in ns: $1" >&2; exit 2 ;; esac
bin=/usr/local/libexec/vdpa-bench-clock-step
mkdir -p /usr/local/libexec
if [ ! -x "$bin" ]; then
  cc=$(command -v gcc || command -v gcc-14 || true)
  [ -n "$cc" ] || { echo "gcc is missing: cannot build the clock-step helper" >&2; exit 3; }
  src=$(mktemp /tmp/vb-clock-step-XXXXXX.c)
  cat > "$src" <<'SOURCE'
${STEP_SOURCE}SOURCE
  "$cc" -O2 -o "$bin" "$src"
  rm -f "$src"
fi
"$bin" "$1"
`;

/** Steps `host`'s clock by `seconds` (may be negative); ns resolution. */
export async function stepClock(host: HostTransport, seconds: number): Promise<void> {
  if (!Number.isFinite(seconds)) throw new Error(`clock step must be a number of seconds, not ${seconds}`);
  const ns = String(Math.round(seconds * 1e9));
  await host.script(STEP_SCRIPT, [ns], { timeoutMs: 120_000, allowFailure: true }).then((r) => {
    if (r.exitCode !== 0) throw new Error(`${host.hostName}: clock step failed: ${r.stderr.trim()}`);
  });
}
