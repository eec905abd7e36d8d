/** `vdpa-bench softlab build|up|down|status`. */
import { InvalidArgumentError, Option, type Command } from '@commander-js/extra-typings';
import { DEFAULT_PAIR_PORT, DEFAULT_SSH_PORT, softlabPaths, THP_MODES } from './paths.ts';
import type { LabVmState } from './vm.ts';

// build.ts and vm.ts (execa, QMP) load when a softlab command runs, not at every CLI start-up.

type Out = { stdout: (s: string) => void; stderr: (s: string) => void };

/** A whole number from min to max (a port, vCPUs, seconds); anything else is a usage error, never NaN passed on to QEMU. */
export const wholeNumber = (min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
  return n;
};

/** A clock step in seconds, signed, with a fraction: 2.5, -0.75. */
export const clockStep = (value: string) => {
  const step = Number(value);
  if (!/^[+-]?\d+(\.\d+)?$/.test(value) || !Number.isFinite(step)) throw new InvalidArgumentError(`not a number of seconds: ${JSON.stringify(value)}`);
  return step;
};

export function addSoftlabCommands(program: Command, out: Out, setExit: (code: number) => void): void {
  const softlab = program
    .command('softlab')
    .description('A software vDPA lab: a Linux VM (TCG) with vdpa_sim_net, QEMU 10.0 (trixie) and 11.x (sid chroot)')
    .addHelpText(
      'after',
      `
The lab VM is built from Debian packages into a cache directory ($VDPA_BENCH_CACHE/softlab, default
~/.cache/vdpa-bench/softlab) and driven over ssh like any lab host (profiles/softlab.yaml).

  vdpa-bench softlab build     # once: ~2-4 min, then cached
  vdpa-bench softlab up        # boot the lab VM; prints the ssh host, port and key
  vdpa-bench run profiles/softlab.yaml
  vdpa-bench softlab down`,
    );
  addBuildCommand(softlab, out);
  addUpCommand(softlab, out);
  addDownCommand(softlab, out);
  addClockStepCommand(softlab, out);
  addStatusCommand(softlab, out, setExit);
}

function addBuildCommand(softlab: Command, out: Out): void {
  softlab
    .command('build')
    .description('Build (or reuse) the lab VM image; prints how long each stage took')
    .option('--mirror <url>', 'Debian mirror', 'http://deb.debian.org/debian')
    .option('--image-size <size>', 'size of the ext4 image (sparse)', '6G')
    .option('--force', 'rebuild every stage')
    .option(
      '--dtrace',
      "also QEMU 10.0 from Debian's source with the log and dtrace trace backends (/opt/qemu-dtrace) and bpftrace in the lab VM, for trace.backend stap; use a cache of its own (VDPA_BENCH_CACHE): the image differs",
    )
    .action(async (opts) => {
      const print = (line: string) => out.stderr(line + '\n');
      const { buildSoftlab } = await import('./build.ts');
      const { timings, info, paths } = await buildSoftlab({ mirror: opts.mirror, imageSize: opts.imageSize, force: opts.force, dtrace: opts.dtrace, print });
      out.stdout('stage timings:\n');
      for (const t of timings) out.stdout(`  ${t.name.padEnd(18)} ${t.cached ? 'cached' : `${t.seconds.toFixed(1)} s`}\n`);
      if (info) out.stdout(`kernel ${info.kernelVersion}; QEMU ${info.qemu.trixie} (trixie), ${info.qemu.sid} (sid)\n`);
      out.stdout(`${paths.image}\n`);
    });
}

function addUpCommand(softlab: Command, out: Out): void {
  softlab
    .command('up')
    .description('Boot the lab VM (TCG) and wait for sshd; prints the ssh host, port and key')
    .option('--port <n>', "loopback port forwarded to the lab VM's sshd", wholeNumber(1, 65534), DEFAULT_SSH_PORT)
    .option('--memory <size>', 'lab VM memory', '6G')
    .option('--cpus <n>', 'lab VM vCPUs', wholeNumber(1, 1024), 2)
    .option('--boot-timeout <seconds>', 'how long to wait for sshd (TCG on a busy machine is slow)', wholeNumber(1, 86_400), 600)
    .addOption(new Option('--thp <mode>', 'transparent huge pages in the lab VM (guest memory of every QEMU in it)').choices([...THP_MODES]))
    .option('--numa-nodes <n>', "NUMA nodes in each lab VM, memory and vCPUs split evenly (2: a two-socket host's shape)", wholeNumber(1, 64), 1)
    .option(
      '--two-hosts',
      `two lab VMs, hostA and hostB (sshd on --port and the next port; default ${DEFAULT_PAIR_PORT}), joined by a private link for the migration stream (profiles/softlab-two-hosts.yaml)`,
    )
    .action(async (opts) => {
      const print = (line: string) => out.stderr(line + '\n');
      // one set of lab VM options for both shapes; only the default port differs
      const vmOptions = (port: number) => ({
        port,
        memory: opts.memory,
        cpus: opts.cpus,
        numaNodes: opts.numaNodes,
        thp: opts.thp,
        bootTimeoutMs: opts.bootTimeout * 1000,
        print,
      });
      if (opts.twoHosts) {
        const { pairUp } = await import('./pair.ts');
        const pair = await pairUp(vmOptions(opts.port === DEFAULT_SSH_PORT ? DEFAULT_PAIR_PORT : opts.port));
        for (const host of pair.hosts) {
          out.stdout(`== ${host.name}: link ${host.linkInterface} ${host.linkAddress} (migrationAddress)\n`);
          printState(host, out);
        }
        out.stdout(`link: QEMU stream netdev over ${pair.linkSocket}\n`);
        return;
      }
      const { labUp } = await import('./vm.ts');
      printState(await labUp(vmOptions(opts.port)), out);
    });
}

function addDownCommand(softlab: Command, out: Out): void {
  softlab
    .command('down')
    .description('Stop the lab VM (its disk is a snapshot: nothing a run did is kept)')
    .option('--two-hosts', 'stop the two-host lab (hostA, hostB)')
    .action(async (opts) => {
      if (opts.twoHosts) {
        const { pairDown } = await import('./pair.ts');
        await pairDown({ print: (line) => out.stderr(line + '\n') });
        return;
      }
      const { labDown } = await import('./vm.ts');
      await labDown({ print: (line) => out.stderr(line + '\n') });
    });
}

function addClockStepCommand(softlab: Command, out: Out): void {
  softlab
    .command('clock-step')
    .description("Step a two-host lab VM's wall clock by an exact amount (clock_adjtime ADJ_SETOFFSET), to test the cross-host clock estimate")
    .argument('<host>', 'hostA or hostB')
    .argument('<seconds>', 'the step, e.g. 2.5 or -0.75', clockStep)
    .action(async (host, step) => {
      const { pairTransport } = await import('./pair.ts');
      const { stepClock } = await import('./clock-step.ts');
      const transport = await pairTransport(host);
      try {
        await stepClock(transport, step);
        out.stdout(`${host}: clock stepped by ${step} s\n`);
      } finally {
        await transport.close();
      }
    });
}

function addStatusCommand(softlab: Command, out: Out, setExit: (code: number) => void): void {
  softlab
    .command('status')
    .description('Say whether the lab VM is up and how to reach it')
    .option('--two-hosts', 'the two-host lab (hostA, hostB)')
    .action(async (opts) => {
      if (opts.twoHosts) {
        const { pairStatus } = await import('./pair.ts');
        for (const { name, state } of await pairStatus()) {
          out.stdout(`== ${name}\n`);
          if (state) printState(state, out);
          else {
            out.stdout(`${name} is not running\n`);
            setExit(1);
          }
        }
        return;
      }
      const { readState } = await import('./vm.ts');
      const state = await readState(softlabPaths());
      if (!state) {
        out.stdout('lab VM is not running\n');
        setExit(1);
        return;
      }
      printState(state, out);
    });
}

function printState(state: LabVmState, out: Out): void {
  out.stdout(`lab VM up: pid ${state.pid}, booted in ${state.bootSeconds.toFixed(1)} s\n`);
  out.stdout(`  kernel ${state.checks.kernel}; ${state.checks.qemu.system} (system), ${state.checks.qemu.sid} (sid chroot)\n`);
  out.stdout(
    `  vdpa mgmtdev: ${state.checks.mgmtdevs.join(', ')}; memlock ${state.checks.memlock}; THP ${state.checks.thp ?? '?'}; loopback ${state.checks.loopbackUp ? 'up' : 'down'}\n`,
  );
  out.stdout(`ssh: host ${state.host} port ${state.port} user ${state.user}\n`);
  out.stdout(`  identityFile: ${state.identityFile}\n  knownHostsFile: ${state.knownHostsFile}\n`);
  out.stdout(`  ssh -i ${state.identityFile} -o UserKnownHostsFile=${state.knownHostsFile} -p ${state.port} ${state.user}@${state.host}\n`);
}
