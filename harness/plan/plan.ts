/**
 * `vdpa-bench plan`: every command a run of the profile would execute, per host and in order,
 * without executing any. Built from the same functions the run uses (steps, checks, builds,
 * qemuArgs, the engine's QMP commands), shown the way each host's transport would run them.
 */
import { join } from 'node:path';
import { openTransport } from '../hosts/open.ts';
import { buildRoot, deviceQueuePairs, eventRequirements, hostSetupSteps, isVdpaProfile, largestGuestBytes, vdpaLaunchHook, type VdpaHost } from '../lab/vdpa.ts';
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
import { qemuArgs } from '../qemu/command.ts';

export const PLAN_RUN_ID = 'RUN_ID';

export type PlanOptions = MatrixNarrowing;

/** Placeholder for a vDPA device's character device until set-up has created it. */
export function devicePlaceholder(name: string): string {
  return `/dev/vhost-vdpa-@${name}`;
}

/** The binary a variant runs on a host: its own, or the one its build installs (key shown as KEY). */
export function planBinary(variant: Variant, host: Host): string {
  const build = variant.qemu.build;
  if (!build) return variant.qemu.binary ?? 'qemu-system-x86_64';
  return join(buildLayout(build, variant.name, buildRoot(host), 'KEY').prefix, 'bin', binaryName(build));
}

export async function planRun(loaded: LoadedProfile, options: PlanOptions = {}): Promise<string> {
  const { profile } = loaded;
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
  const variants = selection.variants.map((n) => profile.variants.find((v) => v.name === n)!);
  const accel = profile.vm.accel === 'tcg' ? 'tcg' : 'kvm';
  const out: string[] = [];
  const say = (line = '') => out.push(line);

  say(`# vdpa-bench plan: ${profile.name} (${loaded.file}, sha256 ${loaded.sha256.slice(0, 12)})`);
  say(`# Nothing here has been executed. Commands are shown as each host's transport would run them.`);
  say(`# ${blocks.length} VM boots, ${blocks.reduce((n, b) => n + b.migrations.length, 0)} migrations; pair ${nameA} <-> ${nameB}; accel ${accel}${profile.vm.accel === 'auto' ? ' (auto: kvm when /dev/kvm works on both hosts, else tcg)' : ''}`);
  say(`# ${PLAN_RUN_ID} is the run id chosen at start. In builds: COMMIT is the commit the ref resolves to, KEY the build's`);
  say(`# cache key (sha256 of commit + patch hashes + configure line), BUILD_RECORD.json what the manifest records of the build.`);
  if (vdpa) say(`# /dev/vhost-vdpa-@NAME is the character device of vDPA device NAME, resolved after set-up; PREVIOUS in teardown is the state set-up found.`);

  const patchesByVariant = new Map<string, { path: string; sha256: string }[]>();
  for (const v of variants) {
    if (!v.qemu.build) continue;
    patchesByVariant.set(v.name, (await readPatches(loaded.file, v.qemu.build.patches)).map(({ path, sha256 }) => ({ path, sha256 })));
  }

  for (const host of hosts) {
    const t = transports.get(host.name)!;
    say();
    say(`== host ${host.name} (${host.transport.kind}) ==`);
    const vdpaHost = vdpa && host.vdpa ? (host as VdpaHost) : undefined;
    let step = 1;
    if (vdpaHost) {
      say(`## ${step++}. preflight (read-only; every failing check is reported, then the run stops)`);
      for (const check of beforeSetupChecks({ config: vdpaHost.vdpa, largestGuestBytes: largestGuestBytes(selection.vmSizes), queuePairs: queuePairs ?? undefined })) {
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
        say(`# variant ${v.name}: ${b.git ? `${b.git} ${b.ref ?? 'HEAD'}` : b.sourceDir}${b.patches.length ? ` + ${b.patches.length} patch${b.patches.length === 1 ? '' : 'es'}` : ''}`);
        for (const line of describeBuild(t, v.name, b, patchesByVariant.get(v.name) ?? [], buildRoot(host))) say(line);
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
      for (const check of qemuChecks(planBinary(v, host), eventRequirements(metrics.names, metrics.rules), profile.trace.backend)) {
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
  const hook = vdpa ? vdpaLaunchHook(devicePaths, sameHost, hosts.filter((h): h is VdpaHost => !!h.vdpa)) : undefined;
  const qmp = (host: EngineHost, who: string, command: { execute: string; arguments?: unknown }) => say(`[${host.name}] QMP ${who}: ${JSON.stringify(command)}`);

  say();
  say(`== migrations (in order) ==`);
  for (const block of blocks) {
    const variant = variants.find((v) => v.name === block.cell.variant)!;
    say();
    say(`### VM boot ${block.index}: ${cellLabel(block.cell)} (${block.migrations.length} migrations)`);
    let current: EngineHost | undefined;
    for (const planned of block.migrations) {
      const from = pair[planned.direction === 0 ? 0 : 1];
      const to = pair[planned.direction === 0 ? 1 : 0];
      const launch = async (host: EngineHost, role: 'src' | 'dst') => {
        const files = qemuFiles(host, planned, role);
        const hostBinaries = new Map(variants.map((v) => [v.name, planBinary(v, profile.hosts.find((h) => h.name === host.name)!)]));
        const overrides = hook?.launch ? await hook.launch({ host, role, planned, variant, vm: profile.vm }) : {};
        say(`[${host.name}] ${describeCommand(host.transport, { kind: 'argv', argv: ['mkdir', '-p', join(host.runDir, 'sock'), join(host.runDir, 'traces'), join(host.runDir, 'console'), join(host.runDir, 'stderr')] })}`);
        const argv = qemuArgs(launchSettings({ binaries: hostBinaries, profile, accel, traceEvents: new Map(variants.map((v) => [v.name, traceEvents])) }, block, variant, host, planned, role, files, overrides));
        say(`[${host.name}] start ${role === 'src' ? 'source' : 'destination'}${vdpa && overrides.vhostVdpaDevice ? ` (${overrides.vhostVdpaDevice.replace('/dev/vhost-vdpa-@', 'vDPA device ')})` : ''}: ${host.transport.describe(argv)}  >>${files.stderrFile} 2>&1`);
      };
      say(`# migration ${planned.seq}: ${from.name} -> ${to.name}${planned.warmup ? ' (warm-up)' : ''}`);
      if (!current) await launch(from, 'src');
      else qmp(from, 'source', { execute: 'human-monitor-command', arguments: { 'command-line': `logfile ${qemuFiles(from, planned, 'src').traceFile}` } });
      qmp(from, 'source', { execute: 'query-status' });
      await launch(to, 'dst');
      const commands = migrationQmpCommands(variant, to.migrationAddress);
      for (const c of commands.setUp) {
        qmp(from, 'source', c);
        qmp(to, 'destination', c);
      }
      qmp(to, 'destination', commands.incoming);
      qmp(to, 'destination', { execute: 'query-migrate' });
      qmp(from, 'source', commands.migrate('<port from query-migrate socket-address>'));
      say(`# wait for MIGRATION completed on the source${variant.capabilities['pause-before-switchover'] ? ' (migrate-continue {"state":"pre-switchover"} at pre-switchover)' : ''}, then on the destination`);
      qmp(from, 'source', { execute: 'query-migrate' });
      qmp(to, 'destination', { execute: 'query-status' });
      qmp(from, 'source', { execute: 'quit' });
      current = to;
    }
    if (current) qmp(current, 'last destination', { execute: 'quit' });
  }

  say();
  say(`== teardown ==`);
  for (const host of hosts) {
    const t = transports.get(host.name)!;
    const eh = engineHost(host.name);
    say(`## host ${host.name}`);
    say(`# console and stderr files come home, then the host's run directory goes`);
    say(describeCommand(t, { kind: 'argv', argv: ['find', eh.runDir, '-type', 'f', '(', '-path', '*/console/*', '-o', '-path', '*/stderr/*', ')'] }));
    say(describeCommand(t, { kind: 'argv', argv: ['rm', '-rf', '--', eh.runDir] }));
    if (vdpa && host.vdpa) {
      say(`# undo, in reverse, only the set-up steps this run applied (restoring the state it found)`);
      for (const s of [...hostSetupSteps(host as VdpaHost, profile, queuePairs)].reverse()) {
        for (const c of s.undo(undefined)) say(`undo ${s.title}: ${describeCommand(t, c)}`);
      }
    }
  }
  await Promise.allSettled([...transports.values()].map((t) => t.close()));
  return out.join('\n') + '\n';
}
