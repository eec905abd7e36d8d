/**
 * `plan`'s per-host preparation, in the order the run performs it: the sudo login, NUMA
 * preflight, site scripts, vDPA preflight and set-up, QEMU builds and Debian roots, verification
 * and host facts; and the QEMU binary and root each variant runs on a host.
 */
import { join } from 'node:path';
import { buildRoot, eventRequirements, hostSetupSteps, largestGuestBytes, migrationPortOf, queuePairCounts, type VdpaHost } from '../lab/vdpa.ts';
import type { Host, Variant } from '../profile/schema.ts';
import { describeCommand } from '../hosts/command.ts';
import { afterSetupChecks, beforeSetupChecks, qemuChecks } from '../provision/preflight.ts';
import { binaryName, buildLayout, describeBuild } from '../qemu/build.ts';
import { qemuInvocation } from '../qemu/command.ts';
import { invocationLabel, ROOT_QEMU_BINARY } from '../qemu/root.ts';
import { describeQemuRootSteps, qemuRootsDir, suiteRoot } from '../provision/qemu-root.ts';
import { cacheRoot } from '../guest/build.ts';
import { LocalTransport } from '../hosts/local.ts';
import type { HostTransport } from '../hosts/transport.ts';
import { type PlanContext } from './context.ts';
import { planHostFacts, planSiteScripts, planSudo, type Section } from './host-steps.ts';
import { planNumaPreflight } from './numa.ts';

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

/** A host's numbered preparation sections, in the order the run performs them; sections with nothing to do are left out. */
export function planHostPreparation(ctx: PlanContext, host: Host): void {
  const { say } = ctx;
  const t = ctx.transports.get(host.name)!;
  say();
  say(`== host ${host.name} (${host.transport.kind}) ==`);
  planSudo(ctx, host, t);
  const vdpaHost = ctx.vdpa && host.vdpa ? (host as VdpaHost) : undefined;
  let step = 1;
  const section = (title: string) => say(`## ${step++}. ${title}`);
  planNumaPreflight(ctx, host, t, section);
  planSiteScripts(ctx, host, t, section);
  if (vdpaHost) planPreflightAndSetUp(ctx, vdpaHost, t, section);
  planQemuBuilds(ctx, host, t, section);
  planQemuRoots(ctx, host, t, section);
  planVerify(ctx, { host, vdpaHost, t }, section);
  planHostFacts(ctx, vdpaHost, t, section);
}

function planPreflightAndSetUp({ profile, selection, queuePairs, say }: PlanContext, vdpaHost: VdpaHost, t: HostTransport, section: Section): void {
  section(`preflight (read-only; every failing check is reported, then the run stops)`);
  for (const check of beforeSetupChecks({
    config: vdpaHost.vdpa,
    largestGuestBytes: largestGuestBytes(selection.vmSizes),
    queuePairs: Math.max(1, ...queuePairCounts(selection.queuePairs)),
    migration: migrationPortOf(vdpaHost, profile),
  })) {
    say(`# ${check.name}`);
    say(describeCommand(t, check.command));
  }
  section(`set-up (each step: check; apply only when not in place; the ledger records what was applied)`);
  for (const s of hostSetupSteps(vdpaHost, profile, queuePairs)) {
    say(`# ${s.title}`);
    say(`check: ${describeCommand(t, s.check)}`);
    for (const c of s.apply(undefined)) say(`apply: ${describeCommand(t, c)}`);
  }
}

function planQemuBuilds({ variants, patchesByVariant, say }: PlanContext, host: Host, t: HostTransport, section: Section): void {
  const builds = variants.filter((v) => v.qemu.build);
  if (builds.length === 0) return;
  section(`QEMU builds (cached by source commit + patches + configure line)`);
  for (const v of builds) {
    const b = v.qemu.build!;
    say(
      `# variant ${v.name}: ${b.git ? `${b.git} ${b.ref ?? 'HEAD'}` : b.sourceDir}${b.patches.length ? ` + ${b.patches.length} patch${b.patches.length === 1 ? '' : 'es'}` : ''}`,
    );
    for (const line of describeBuild({ host: t, variant: v.name, spec: b, patches: patchesByVariant.get(v.name) ?? [], buildRoot: buildRoot(host) })) say(line);
  }
}

function planQemuRoots({ variants, say }: PlanContext, host: Host, t: HostTransport, section: Section): void {
  const suites = [...new Set(variants.map((v) => v.qemu.debian).filter((s): s is string => !!s))];
  if (suites.length === 0) return;
  // a namespace shares the filesystem but may not reach the mirror: its root is made outside
  const maker = host.transport.kind === 'netns' ? new LocalTransport(host.name) : t;
  section(
    `QEMU from Debian suites (${suites.join(', ')}): a root filesystem per suite, cached on the host${host.transport.kind === 'netns' ? ' (made outside the namespace: same filesystem, mirror reachable)' : ''}`,
  );
  for (const suite of suites) {
    for (const s of describeQemuRootSteps(qemuRootsDir(host, cacheRoot()), suite)) {
      say(`# ${s.title}`);
      say(describeCommand(maker, s.command));
    }
  }
}

function planVerify(
  { profile, selection, metrics, variants, say }: PlanContext,
  { host, vdpaHost, t }: { host: Host; vdpaHost: VdpaHost | undefined; t: HostTransport },
  section: Section,
): void {
  section(`verify${vdpaHost ? ' after set-up' : ''}: QEMU binaries, trace events, timestamps${vdpaHost ? ', vDPA devices' : ''}`);
  if (vdpaHost) {
    for (const check of afterSetupChecks({ config: vdpaHost.vdpa, largestGuestBytes: largestGuestBytes(selection.vmSizes) })) {
      say(`# ${check.name}`);
      say(describeCommand(t, check.command));
    }
  }
  for (const v of variants) {
    const invocation = qemuInvocation(v, planBinary(v, host), planRoot(v, host));
    for (const check of qemuChecks(invocation, eventRequirements([profile.metrics.primary], metrics.rules), profile.trace.backend, {
      label: invocationLabel(invocation),
      tracer: { kind: profile.trace.tracer },
    })) {
      say(`# ${check.name}`);
      say(describeCommand(t, check.command));
    }
  }
}
