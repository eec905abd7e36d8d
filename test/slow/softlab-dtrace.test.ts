/**
 * The dtrace backend captured for real, in the software vDPA lab: QEMU 10.0 built from Debian's
 * source with the log and dtrace backends (`softlab build --dtrace`), each QEMU traced by bpftrace
 * (usdt: probes, attached per process) and by its own log backend at once (trace.alsoLog). Four
 * migrations of one guest:
 *   1 and 3: the `vdpa` downtime from the bpftrace capture equals the one from the log backend's
 *            file of the same migration, to within the skew between the two backends' clock reads
 *            of each event (both CLOCK_REALTIME, µs in the files);
 *   2:       the destination's tracer output gets bpftrace's `Lost 7 events` line while it runs
 *            (the tracer's real message format): invalid, with that message;
 *   4:       the destination's bpftrace is killed (SIGKILL) after it attached: invalid, saying so.
 * The lab VM's kernel TAI offset is set to 37 s first, as chrony or ptp4l set it on real labs:
 * bpftrace's nsecs(sw_tai) is then 37 s ahead of CLOCK_REALTIME, and only the conversion makes the
 * two backends agree.
 * The build took 5.5 minutes on this 2-core machine at load 2–8 and 10 at load 11
 * (docs/results/2026-12-07-dtrace-capture.md). .ci/run does not run this test yet (issue #19: its
 * first real run failed on bpftrace's argument limit, since fixed): it runs where the build is cached
 * ($VDPA_BENCH_DTRACE_CACHE, default ~/.cache/vdpa-bench-dtrace) and is skipped, saying how to make
 * it, otherwise.
 */
import test from 'ava';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { analyseParsed, analysisEvents } from '../../harness/metrics/analyse.ts';
import { metricSetup } from '../../harness/run/selection.ts';
import { readIterations, readManifest } from '../../harness/results/store.ts';
import { DTRACE_QEMU_BINARY } from '../../harness/softlab/dtrace-qemu.ts';
import { loadProfile } from '../../harness/profile/load.ts';
import { parseTrace } from '../../harness/traces/parse.ts';
import { scanTraceFile } from '../../harness/traces/read.ts';
import { lastLine, REPO, vdpaBench } from '../helpers/cli.ts';
import type { ProfileYaml } from '../helpers/json.ts';
import { comparePlanWithRun, unexplainedLaunches } from '../helpers/plan-argv.ts';

const CACHE = process.env.VDPA_BENCH_DTRACE_CACHE ?? join(homedir(), '.cache', 'vdpa-bench-dtrace');
const BUILT = join(CACHE, 'softlab', 'qemu-dtrace', DTRACE_QEMU_BINARY.slice(1));
/** Per event, the log backend reads the clock just before the SDT probe fires (tracetool calls the backends in order): tens of µs apart under TCG. */
const TOLERANCE_MS = 1;

function whySkipped(): string | null {
  if (process.env.VDPA_BENCH_SLOW !== '1') return 'slow test: run with VDPA_BENCH_SLOW=1 (not yet in .ci/run)';
  if (process.getuid?.() !== 0) return 'not running as root (the soft lab needs root)';
  if (!existsSync(BUILT)) {
    return `the dtrace QEMU is not built in ${CACHE} (5.5–10 min here): cp -a --reflink=auto ~/.cache/vdpa-bench ${CACHE} && VDPA_BENCH_CACHE=${CACHE} vdpa-bench softlab build --dtrace`;
  }
  return null;
}

/** Runs a script in the lab VM over ssh (stdin), as the test's own observer of the run. */
function inLabVm(port: number, identity: string, knownHosts: string, script: string) {
  return execa(
    'ssh',
    [
      '-p',
      String(port),
      '-i',
      identity,
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      'root@127.0.0.1',
      'bash',
      '-s',
    ],
    { input: script, reject: false, timeout: 1_800_000 },
  );
}

/** Waits for migration SEQ's destination tracer to attach, then does WHAT to it. */
const FAULT = String.raw`
seq=$1; what=$2
for _ in $(seq 1 6000); do
  f=$(ls /var/tmp/vdpa-bench/*/traces/$seq-*-dst-*.tracer-out 2>/dev/null | head -n1)
  if [ -n "$f" ] && grep -q qmp_enter_query_name "$f"; then
    if [ "$what" = lose ]; then echo 'Lost 7 events' >> "$f"; echo "appended to $f"; exit 0; fi
    for p in $(pgrep -f -- "-o $f"); do [ "$(cat /proc/$p/comm)" = bpftrace ] && kill -9 "$p" && echo "killed bpftrace $p ($f)"; done
    exit 0
  fi
  sleep 0.1
done
echo "migration $seq's destination tracer never attached"; exit 1
`;

/** adjtimex(ADJ_TAI = 0x80, constant 37) in the lab VM (its own kernel; nothing of it outlives `softlab down`), then read back. */
const SET_TAI_OFFSET = String.raw`
perl -e '$t = pack("L", 0x80) . ("\0" x 44) . pack("q", 37) . ("\0" x 152); syscall(159, $t) >= 0 or die "adjtimex: $!\n"; $r = "\0" x 208; syscall(159, $r); print "tai ", unpack("l", substr($r, 160, 4)), "\n"'
`;

const reason = whySkipped();
if (reason) {
  console.warn(`softlab dtrace test SKIPPED: ${reason}`);
  test.skip(`softlab dtrace capture (skipped: ${reason})`, () => {});
} else {
  test.serial('softlab dtrace: the bpftrace capture gives the log backend’s vdpa downtime; lost events and a killed tracer void their migration', async (t) => {
    const env = { ...process.env, VDPA_BENCH_CACHE: CACHE } as Record<string, string>;
    const build = await vdpaBench(['softlab', 'build', '--dtrace'], { env, timeout: 3_600_000 });
    t.is(build.exitCode, 0, build.stderr + build.stdout);
    const up = await vdpaBench(['softlab', 'up', '--memory', '4G', '--port', '10122'], { env, timeout: 900_000 });
    const ours = !/already up/.test(up.stderr);
    t.teardown(async () => {
      if (ours) await vdpaBench(['softlab', 'down'], { env, timeout: 120_000 });
    });
    t.is(up.exitCode, 0, up.stderr);
    const port = Number(/ssh: host \S+ port (\d+)/.exec(up.stdout)![1]);
    const identity = /identityFile: (.+)/.exec(up.stdout)![1].trim();
    const knownHosts = /knownHostsFile: (.+)/.exec(up.stdout)![1].trim();

    const dir = await mkdtemp(join(tmpdir(), 'vb-softlab-dtrace-'));
    const profile = parse(await readFile(join(REPO, 'profiles/softlab.yaml'), 'utf8')) as ProfileYaml & Record<string, unknown>;
    Object.assign(profile.hosts[0].transport, { port, identityFile: identity, knownHostsFile: knownHosts });
    Object.assign(profile, {
      name: 'softlab-dtrace',
      variants: [{ name: 'dtrace', description: 'QEMU 10.0 (Debian source) with the log and dtrace backends', qemu: { binary: DTRACE_QEMU_BINARY } }],
      matrix: { vmSizes: ['256M'], queuePairs: [1], variants: ['dtrace'] },
      iterations: 4,
      warmup: 0,
      trace: { events: ['runstate_set', 'vmstate_downtime_checkpoint'], backend: 'stap', tracer: 'bpftrace', alsoLog: true },
      metrics: { primary: 'vdpa', use: ['vdpa', 'runstate'] },
      migration: { timeout: '5m', qmpTimeout: '90s', maxConsecutiveFailures: 4 },
    });
    delete profile.compare;
    const profilePath = join(dir, 'softlab-dtrace.yaml');
    await writeFile(profilePath, stringify(profile));

    // a TAI offset as chrony or ptp4l set it on real labs (37 s): the capture matches the log backend only if it is converted
    const tai = await inLabVm(port, identity, knownHosts, SET_TAI_OFFSET);
    t.is(tai.stdout.trim(), 'tai 37', tai.stderr);
    const faults = Promise.all([
      inLabVm(port, identity, knownHosts, `set -- 0002 lose\n${FAULT}`),
      inLabVm(port, identity, knownHosts, `set -- 0004 kill\n${FAULT}`),
    ]);
    const started = performance.now();
    const run = await vdpaBench(['run', profilePath, '--out', join(dir, 'results')], { env, timeout: 1_800_000 });
    t.log(`run: ${((performance.now() - started) / 1000).toFixed(0)} s; faults: ${(await faults).map((f) => f.stdout.trim()).join(' | ')}`);
    const runDir = lastLine(run.stdout);
    const manifest = await readManifest(runDir);
    t.truthy(manifest, `no manifest in ${runDir}: ${run.stderr}`);
    const qemu = (manifest!.lab as { qemu: Record<string, Record<string, { traceBackend?: string; tracer?: string }>> }).qemu.labvm.dtrace;
    t.is(qemu.traceBackend, 'dtrace');
    t.regex(qemu.tracer!, /^bpftrace: CLOCK_REALTIME/);

    const { records } = await readIterations(runDir);
    t.deepEqual(
      records.map((r) => r.status),
      ['ok', 'invalid', 'ok', 'invalid'],
      records.map((r) => `${r.seq}: ${r.status} ${r.reason ?? ''}`).join('\n'),
    );
    t.regex(records[1].reason!, /^trace capture incomplete: bpftrace on labvm \(dst of migration 2\): Lost 7 events/);
    t.regex(records[3].reason!, /bpftrace on labvm \(dst of migration 4\) ended before its QEMU \(exit 137: the tracer was killed by signal 9\)/);

    const loaded = await loadProfile(profilePath);
    // plan with the run's facts printed every QEMU and every tracer the run started (the pid aside)
    const comparison = await comparePlanWithRun(runDir, loaded, {});
    t.deepEqual(comparison.mismatches, []);
    t.deepEqual(unexplainedLaunches(comparison, records), []);
    const setup = metricSetup(loaded.profile);
    for (const r of records.filter((x) => x.status === 'ok')) {
      const capture = { source: join(runDir, r.traces.source), destination: join(runDir, r.traces.destination) };
      const logged = { source: capture.source.replace(/\.log$/, '.qemu-log.log'), destination: capture.destination.replace(/\.log$/, '.qemu-log.log') };
      t.deepEqual(parseTrace(await readFile(capture.destination, 'utf8')).formats, ['stap'], 'the capture is in the PID@NANOSECONDS format');
      t.deepEqual(parseTrace(await readFile(logged.destination, 'utf8')).formats, ['log-legacy'], 'the log backend wrote its own file');
      const wanted = analysisEvents(setup.rules, ['vdpa', 'runstate'], r.queuePairs);
      const fromLog = analyseParsed({
        source: await scanTraceFile(logged.source, { events: wanted }),
        destination: await scanTraceFile(logged.destination, { events: wanted }),
        rules: setup.rules,
        names: ['vdpa', 'runstate'],
        primary: 'vdpa',
        clockOffsetUs: r.clock?.offsetUs ?? 0,
        windows: r.windows,
        queuePairs: r.queuePairs,
        destinationQmpReadyMs: r.destinationQmpReadyMs,
      });
      const difference = Math.abs(r.metrics.vdpa! - fromLog.metrics.vdpa!);
      t.log(`migration ${r.seq}: vdpa ${r.metrics.vdpa} ms from bpftrace, ${fromLog.metrics.vdpa} ms from the log backend (|Δ| ${difference.toFixed(3)} ms)`);
      t.true(difference <= TOLERANCE_MS, `migration ${r.seq}: capture and log backend differ by ${difference} ms`);
    }
  });
}
