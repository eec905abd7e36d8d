/**
 * `vdpa-bench plan`: every command a run of the profile would execute, per host and in order,
 * without executing any. Built from the same functions the run uses (steps, checks, builds,
 * qemuArgs, the engine's QMP commands), shown the way each host's transport would run them.
 */
import { join } from 'node:path';
import { openTransport } from '../hosts/open.ts';
import {
  buildRoot,
  deviceFor,
  deviceQueuePairs,
  eventRequirements,
  hostSetupSteps,
  isVdpaProfile,
  largestGuestBytes,
  queuePairCounts,
  queuePairProblems,
  vdpaLaunchHook,
  type VdpaHost,
} from '../lab/vdpa.ts';
import { queuePairStep } from '../provision/steps.ts';
import { describeSiteScripts, siteScriptsFor } from '../provision/site-scripts.ts';
import { PHASE_EVENTS } from '../metrics/phases.ts';
import { migrationQmpCommands } from '../migration/migrate.ts';
import { launchSettings, qemuFiles } from '../migration/launch.ts';
import { type EngineHost } from '../migration/interfaces.ts';
import { metricSetup, scheduleFor, selectMatrix, type MatrixNarrowing } from '../run/selection.ts';
import { cellLabel } from '../profile/cell.ts';
import { pairHosts, type LoadedProfile } from '../profile/load.ts';
import type { Host, Variant } from '../profile/schema.ts';
import { describeCommand } from '../hosts/command.ts';
import { factsCommand } from '../provision/facts.ts';
import { afterSetupChecks, beforeSetupChecks, qemuChecks, vhostVdpaDeviceCommand } from '../provision/preflight.ts';
import { binaryName, buildLayout, describeBuild, readPatches } from '../qemu/build.ts';
import { qemuArgs, qemuInvocation } from '../qemu/command.ts';
import { needsLabBox } from '../profile/lab-box-checks.ts';
import { planLabBox } from './lab-box.ts';
import { invocationLabel, ROOT_QEMU_BINARY } from '../qemu/root.ts';
import { describeQemuRootSteps, qemuRootsDir, suiteRoot } from '../provision/qemu-root.ts';
import { cacheRoot } from '../guest/build.ts';
import { LocalTransport } from '../hosts/local.ts';

export const PLAN_RUN_ID = 'RUN_ID';

export type PlanOptions = MatrixNarrowing;

/** Placeholder for a vDPA device's character device until set-up has created it. */
export function devicePlaceholder(name: string): string {
  return `/dev/vhost-vdpa-@${name}`;
}

/** The binary a variant runs on a host: its own, or the one its build installs (key shown as KEY). */
export function planBinary(variant: Variant, host: Host): string {
  if (variant.qemu.debian) return ROOT_QEMU_BINARY;
  const build = variant.qemu.build;
  if (!build) return variant.qemu.binary ?? 'qemu-system-x86_64';
  return join(buildLayout(build, variant.name, buildRoot(host), 'KEY').prefix, 'bin', binaryName(build));
}

/** The root filesystem a `qemu.debian` variant's QEMU runs from on a host. */
export function planRoot(variant: Variant, host: Host): string | undefined {
  return variant.qemu.debian ? suiteRoot(qemuRootsDir(host, cacheRoot()), variant.qemu.debian) : undefined;
}

export async function planRun(loaded: LoadedProfile, options: PlanOptions = {}): Promise<string> {
  // the lab in a box plans on the profile as prepareLabBox rewrites it (namespaced hosts, built guest)
  const box = needsLabBox(loaded.profile) ? await planLabBox(loaded.profile, join('RESULTS', PLAN_RUN_ID)) : undefined;
  const profile = box?.profile ?? loaded.profile;
  const selection = selectMatrix(profile, options);
  const blocks = scheduleFor(profile, selection);
  const metrics = metricSetup(profile);
  const vdpa = isVdpaProfile(profile, selection.queuePairs);
  const traceEvents = vdpa ? [...new Set([...metrics.traceEvents, ...PHASE_EVENTS])] : metrics.traceEvents;
  const queuePairs = vdpa ? deviceQueuePairs(selection.queuePairs) : null;
  const [nameA, nameB] = pairHosts(profile);
  const pairNames = [...new Set([nameA, nameB])];
  const hosts = pairNames.map((n) => profile.hosts.find((h) => h.name === n)!);
  // transports only describe here; opening one starts no connection
  const transports = new Map(hosts.map((h) => [h.name, openTransport(h)]));
  const site = siteScriptsFor(profile, loaded.file, pairNames);
  const variants = selection.variants.map((n) => profile.variants.find((v) => v.name === n)!);
  const accel = profile.vm.accel === 'tcg' ? 'tcg' : 'kvm';
  const out: string[] = [];
  const say = (line = '') => out.push(line);

  say(`# vdpa-bench plan: ${profile.name} (${loaded.file}, sha256 ${loaded.sha256.slice(0, 12)})`);
  say(`# Nothing here has been executed. Commands are shown as each host's transport would run them.`);
  say(
    `# ${blocks.length} VM boots, ${blocks.reduce((n, b) => n + b.migrations.length, 0)} migrations; pair ${nameA} <-> ${nameB}; accel ${accel}${profile.vm.accel === 'auto' ? ' (auto: kvm when /dev/kvm works on both hosts, else tcg)' : ''}`,
  );
  say(`# ${PLAN_RUN_ID} is the run id chosen at start. In builds: COMMIT is the commit the ref resolves to, KEY the build's`);
  say(`# cache key (sha256 of commit + patch hashes + configure line), BUILD_RECORD.json what the manifest records of the build.`);
  const sweep = vdpa ? queuePairCounts(selection.queuePairs) : [];
  if (sweep.length > 1)
    say(`# queue-pair sweep ${sweep.join(', ')}: devices are created with max_vqp ${sweep[0]} and re-created before each VM boot that needs another count.`);
  const vdpaPairHosts = hosts.filter((h): h is VdpaHost => vdpa && !!h.vdpa);
  for (const problem of vdpa ? queuePairProblems(vdpaPairHosts, selection.queuePairs) : [])
    say(`# PREFLIGHT REFUSES THIS RUN before touching any host: ${problem}`);
  if (vdpa) say(`# /dev/vhost-vdpa-@NAME is the character device of vDPA device NAME, resolved after set-up; PREVIOUS in teardown is the state set-up found.`);

  if (box) {
    say();
    for (const line of box.lines) say(line);
  }

  const patchesByVariant = new Map<string, { path: string; sha256: string }[]>();
  for (const v of variants) {
    if (!v.qemu.build) continue;
    patchesByVariant.set(
      v.name,
      (await readPatches(loaded.file, v.qemu.build.patches)).map(({ path, sha256 }) => ({ path, sha256 })),
    );
  }

  for (const host of hosts) {
    const t = transports.get(host.name)!;
    say();
    say(`== host ${host.name} (${host.transport.kind}) ==`);
    const vdpaHost = vdpa && host.vdpa ? (host as VdpaHost) : undefined;
    let step = 1;
    const siteLines = describeSiteScripts(site, host.name, t);
    if (siteLines.length > 0) {
      say(`## ${step++}. site scripts (zx; the ledger records what apply changed)`);
      for (const line of siteLines) say(line);
    }
    if (vdpaHost) {
      say(`## ${step++}. preflight (read-only; every failing check is reported, then the run stops)`);
      for (const check of beforeSetupChecks({
        config: vdpaHost.vdpa,
        largestGuestBytes: largestGuestBytes(selection.vmSizes),
        queuePairs: Math.max(1, ...queuePairCounts(selection.queuePairs)),
      })) {
        say(`# ${check.name}`);
        say(describeCommand(t, check.command));
      }
      say(`## ${step++}. set-up (each step: check; apply only when not in place; the ledger records what was applied)`);
      for (const s of hostSetupSteps(vdpaHost, profile, queuePairs)) {
        say(`# ${s.title}`);
        say(`check: ${describeCommand(t, s.check)}`);
        for (const c of s.apply(undefined)) say(`apply: ${describeCommand(t, c)}`);
      }
    }
    const builds = variants.filter((v) => v.qemu.build);
    if (builds.length > 0) {
      say(`## ${step++}. QEMU builds (cached by source commit + patches + configure line)`);
      for (const v of builds) {
        const b = v.qemu.build!;
        say(
          `# variant ${v.name}: ${b.git ? `${b.git} ${b.ref ?? 'HEAD'}` : b.sourceDir}${b.patches.length ? ` + ${b.patches.length} patch${b.patches.length === 1 ? '' : 'es'}` : ''}`,
        );
        for (const line of describeBuild({ host: t, variant: v.name, spec: b, patches: patchesByVariant.get(v.name) ?? [], buildRoot: buildRoot(host) }))
          say(line);
      }
    }
    const suites = [...new Set(variants.map((v) => v.qemu.debian).filter((s): s is string => !!s))];
    if (suites.length > 0) {
      const maker = host.transport.kind === 'netns' ? new LocalTransport(host.name) : t;
      say(
        `## ${step++}. QEMU from Debian suites (${suites.join(', ')}): a root filesystem per suite, cached on the host${host.transport.kind === 'netns' ? ' (made outside the namespace: same filesystem, mirror reachable)' : ''}`,
      );
      for (const suite of suites) {
        for (const s of describeQemuRootSteps(qemuRootsDir(host, cacheRoot()), suite)) {
          say(`# ${s.title}`);
          say(describeCommand(maker, s.command));
        }
      }
    }
    say(`## ${step++}. verify${vdpaHost ? ' after set-up' : ''}: QEMU binaries, trace events, timestamps${vdpaHost ? ', vDPA devices' : ''}`);
    if (vdpaHost) {
      for (const check of afterSetupChecks({ config: vdpaHost.vdpa, largestGuestBytes: largestGuestBytes(selection.vmSizes) })) {
        say(`# ${check.name}`);
        say(describeCommand(t, check.command));
      }
    }
    for (const v of variants) {
      const invocation = qemuInvocation(v, planBinary(v, host), planRoot(v, host));
      for (const check of qemuChecks(
        invocation,
        eventRequirements([profile.metrics.primary], metrics.rules),
        profile.trace.backend,
        invocationLabel(invocation),
      )) {
        say(`# ${check.name}`);
        say(describeCommand(t, check.command));
      }
    }
    say(`## ${step++}. host facts for the manifest`);
    say(`# kernel, CPU, memory, KVM, kernel command line (harness/hosts/facts.ts)`);
    say(`${t.describe(['bash', '-s'])} <<'SCRIPT'  # script: harness/hosts/facts.ts`);
    if (vdpaHost) {
      say(`# NIC model, ethtool -i, devlink dev info, vdpa dev config show, IOMMU, hugepages`);
      say(describeCommand(t, factsCommand(vdpaHost.vdpa)).split('\n')[0] + '  # script: harness/provision/facts.ts');
      for (const d of vdpaHost.vdpa.devices) {
        say(`# resolve ${devicePlaceholder(d.name)}`);
        say(describeCommand(t, vhostVdpaDeviceCommand(d.name)).split('\n')[0] + '  # script: harness/provision/preflight.ts');
      }
    }
  }

  const engineHost = (name: string): EngineHost => {
    const host = profile.hosts.find((h) => h.name === name)!;
    return { name, transport: transports.get(name)!, runDir: join(host.workdir, PLAN_RUN_ID), migrationAddress: host.migrationAddress };
  };
  const pair: [EngineHost, EngineHost] = [engineHost(nameA), engineHost(nameB)];
  const sameHost = nameA === nameB;
  const devicePaths = new Map(hosts.filter((h) => h.vdpa).map((h) => [h.name, new Map(h.vdpa!.devices.map((d) => [d.name, devicePlaceholder(d.name)]))]));
  const hooks = [
    ...(vdpa
      ? [
          vdpaLaunchHook(
            devicePaths,
            sameHost,
            hosts.filter((h): h is VdpaHost => !!h.vdpa),
          ),
        ]
      : []),
    ...(box?.hooks ?? []),
  ];
  const qmp = (host: EngineHost, who: string, command: { execute: string; arguments?: unknown }) =>
    say(`[${host.name}] QMP ${who}: ${JSON.stringify(command)}`);

  say();
  say(`== migrations (in order) ==`);
  let devicesHave = queuePairs;
  for (const block of blocks) {
    const variant = variants.find((v) => v.name === block.cell.variant)!;
    say();
    const want = block.cell.queuePairs;
    if (vdpa && want !== null && want !== devicesHave) {
      say(
        `### before VM boot ${block.index}: vDPA devices re-created with max_vqp ${want} (was ${devicesHave ?? 'the default'}; the ledger records it, teardown restores it)`,
      );
      for (const h of vdpaPairHosts) {
        const t = transports.get(h.name)!;
        for (const d of h.vdpa.devices) {
          const s = queuePairStep(d, h.vdpa.managementDevice, h.vdpa.driver, want);
          say(`[${h.name}] check: ${describeCommand(t, s.check)}`);
          for (const c of s.apply(undefined)) say(`[${h.name}] apply: ${describeCommand(t, c)}`);
          say(
            `[${h.name}] resolve ${devicePlaceholder(d.name)}: ${describeCommand(t, vhostVdpaDeviceCommand(d.name)).split('\n')[0]}  # script: harness/provision/preflight.ts`,
          );
        }
      }
      devicesHave = want;
    }
    say(`### VM boot ${block.index}: ${cellLabel(block.cell)} (${block.migrations.length} migrations)`);
    let current: EngineHost | undefined;
    for (const planned of block.migrations) {
      const from = pair[planned.direction === 0 ? 0 : 1];
      const to = pair[planned.direction === 0 ? 1 : 0];
      const launch = async (host: EngineHost, role: 'src' | 'dst') => {
        const files = qemuFiles(host, planned, role);
        const hostBinaries = new Map(
          variants.map((v) => [
            v.name,
            planBinary(
              v,
              profile.hosts.find((h) => h.name === host.name)!,
            ),
          ]),
        );
        let overrides: Awaited<ReturnType<NonNullable<(typeof hooks)[number]['launch']>>> = {};
        for (const h of hooks)
          if (h.launch) overrides = { ...overrides, ...(await h.launch({ host, role, planned, variant, vm: overrides.vm ?? profile.vm })) };
        const root = planRoot(
          variant,
          profile.hosts.find((h) => h.name === host.name)!,
        );
        if (root) overrides = { ...overrides, root };
        say(
          `[${host.name}] ${describeCommand(host.transport, { kind: 'argv', argv: ['mkdir', '-p', join(host.runDir, 'sock'), join(host.runDir, 'traces'), join(host.runDir, 'console'), join(host.runDir, 'stderr')] })}`,
        );
        const argv = qemuArgs(
          launchSettings(
            { binaries: hostBinaries, profile, accel, traceEvents: new Map(variants.map((v) => [v.name, traceEvents])) },
            { block, variant, host, planned, role, files, overrides },
          ),
        );
        say(
          `[${host.name}] start ${role === 'src' ? 'source' : 'destination'}${vdpa && overrides.vhostVdpaDevice ? ` (${overrides.vhostVdpaDevice.replace('/dev/vhost-vdpa-@', 'vDPA device ')})` : ''}: ${host.transport.describe(argv)}  >>${files.stderrFile} 2>&1`,
        );
      };
      say(`# migration ${planned.seq}: ${from.name} -> ${to.name}${planned.warmup ? ' (warm-up)' : ''}`);
      if (!current) await launch(from, 'src');
      else qmp(from, 'source', { execute: 'human-monitor-command', arguments: { 'command-line': `logfile ${qemuFiles(from, planned, 'src').traceFile}` } });
      qmp(from, 'source', { execute: 'query-status' });
      await launch(to, 'dst');
      for (const line of box?.beforeMigration(planned.seq) ?? []) say(line);
      const commands = migrationQmpCommands(variant, to.migrationAddress);
      for (const c of commands.setUp) {
        qmp(from, 'source', c);
        qmp(to, 'destination', c);
      }
      qmp(to, 'destination', commands.incoming);
      qmp(to, 'destination', { execute: 'query-migrate' });
      qmp(from, 'source', commands.migrate('<port from query-migrate socket-address>'));
      say(
        `# wait for MIGRATION completed on the source${variant.capabilities['pause-before-switchover'] ? ' (migrate-continue {"state":"pre-switchover"} at pre-switchover)' : ''}, then on the destination`,
      );
      qmp(from, 'source', { execute: 'query-migrate' });
      qmp(to, 'destination', { execute: 'query-status' });
      qmp(from, 'source', { execute: 'quit' });
      if (vdpa && to.name && vdpaPairHosts.some((h) => h.name === to.name)) {
        const device = deviceFor(
          vdpaPairHosts.find((h) => h.name === to.name)!.vdpa.devices.map((d) => d.name),
          sameHost,
          planned,
          'dst',
        );
        say(`[${to.name}] negotiated queue pairs for the record: ${to.transport.describe(['vdpa', '-j', 'dev', 'config', 'show', device])}`);
      }
      for (const line of box?.afterMigration(planned.seq) ?? []) say(line);
      current = to;
    }
    if (current) qmp(current, 'last destination', { execute: 'quit' });
  }

  say();
  say(`== teardown ==`);
  for (const host of hosts) {
    const t = transports.get(host.name)!;
    for (const s of [...site].reverse().filter((x) => x.host === host.name))
      say(`# undo() of site script ${s.path} args ${JSON.stringify(s.args)}, when its apply() ran: back to what its check() found`);
    const eh = engineHost(host.name);
    say(`## host ${host.name}`);
    say(`# console and stderr files come home, then the host's run directory goes`);
    say(describeCommand(t, { kind: 'argv', argv: ['find', eh.runDir, '-type', 'f', '(', '-path', '*/console/*', '-o', '-path', '*/stderr/*', ')'] }));
    say(describeCommand(t, { kind: 'argv', argv: ['rm', '-rf', '--', eh.runDir] }));
    if (vdpa && host.vdpa) {
      say(`# undo, in reverse, only the set-up steps this run applied (restoring the state it found)`);
      if (sweep.length > 1) {
        for (const d of host.vdpa.devices)
          for (const c of queuePairStep(d, host.vdpa.managementDevice, host.vdpa.driver, sweep[0]).undo(undefined))
            say(`undo vDPA device ${d.name} re-created per cell: ${describeCommand(t, c)}`);
      }
      for (const s of [...hostSetupSteps(host as VdpaHost, profile, queuePairs)].reverse()) {
        for (const c of s.undo(undefined)) say(`undo ${s.title}: ${describeCommand(t, c)}`);
      }
    }
  }
  if (box && box.teardown.length > 0) {
    say(`## lab in a box`);
    for (const line of box.teardown) say(line);
  }
  await Promise.allSettled([...transports.values()].map((t) => t.close()));
  return out.join('\n') + '\n';
}
