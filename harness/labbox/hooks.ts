/**
 * Migration hooks of the lab in a box: a tap NIC per host, guest readiness before a migration, a
 * fixed-rate probe across the switchover, and the guest-integrity verdict afterwards.
 */
import { join } from 'node:path';
import { consoleTail, damageEvidence, guestReady, integrityVerdict, lastWorkloadRate } from '../guest/console.ts';
import type { HostTransport } from '../hosts/transport.ts';
import { networkDowntime, probeLogName } from '../metrics/network.ts';
import type { MigrationContribution, MigrationHooks } from '../migration/interfaces.ts';
import type { BuiltinLinuxGuest, NetworkLab } from '../profile/schema.ts';
import { parseDuration } from '../profile/size.ts';
import type { RunningQemu } from '../qemu/running.ts';
import type { IntegrityPart } from '../results/types.ts';
import { TAP } from './netns.ts';
import { RunningProbe } from './prober.ts';

export const NETWORK_METRICS = ['network', 'network-rx-gap'] as const;

export interface LabHookOptions {
  guest: BuiltinLinuxGuest;
  /** Kernel command lines of variants that run their own workload (variant name → command line). */
  variantCmdlines?: ReadonlyMap<string, string>;
  network?: { settings: NetworkLab; peer: HostTransport; prober: string; probeDir: string };
  /** How long a freshly booted guest may take to print vb-ready. */
  bootTimeoutMs: number;
  note(message: string): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function consoleText(instance: RunningQemu): Promise<string> {
  return instance.host.readFile(instance.files.consoleFile).then(
    (b) => b.toString('utf8'),
    () => '',
  );
}

class GuestDamaged extends Error {}

/** Waits for a freshly booted guest's vb-ready, refusing one whose console already shows damage. */
async function waitForBoot(source: RunningQemu, bootTimeoutMs: number): Promise<void> {
  const deadline = Date.now() + bootTimeoutMs;
  for (;;) {
    const text = await consoleText(source);
    const damage = damageEvidence(text);
    if (damage.length > 0) throw new GuestDamaged(`the guest is damaged before migrating: ${damage.slice(0, 3).join(' | ')}`);
    if (guestReady(text)) return;
    if (Date.now() > deadline)
      throw new Error(`the guest did not print vb-ready within ${bootTimeoutMs / 1000} s of booting (console: ${consoleTail(text, 3).join(' | ') || 'empty'})`);
    await sleep(250);
  }
}

/** The guest must answer the peer before a probe starts (up to 120 s) and after the switchover (30 s): the prober's reachability check. */
export function reachArgv(prober: string, guestIp: string, waitS: 120 | 30): string[] {
  return [prober, '-t', guestIp, '-r', '100', '-u', String(waitS)];
}

/** The profile's announce settings that are set, as migrate-set-parameters arguments. */
export function announceParameters(announce: NetworkLab['announce']): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries({
      'announce-rounds': announce.rounds,
      'announce-initial': announce.initial,
      'announce-max': announce.max,
      'announce-step': announce.step,
    }).filter(([, v]) => v !== undefined),
  );
}

type AfterMigration = Parameters<NonNullable<MigrationHooks['afterMigration']>>[0];

type SourceFindings = Pick<IntegrityPart, 'guestDirtyRateMBps' | 'sourceEvidence'>;
type DestinationFindings = Pick<IntegrityPart, 'verdict' | 'check' | 'waitedMs' | 'evidence'>;

/** The source's console after the switchover: the workload's last dirty rate and any damage it printed. */
async function checkSourceConsole(source: RunningQemu, from: AfterMigration['from'], problems: string[]): Promise<SourceFindings> {
  const sourceText = await from.transport.readFile(source.files.consoleFile).then(
    (b) => b.toString('utf8'),
    () => '',
  );
  const damage = damageEvidence(sourceText);
  if (damage.length > 0) problems.push(`source console: ${damage.slice(0, 3).join(' | ')}`);
  return { guestDirtyRateMBps: lastWorkloadRate(sourceText), sourceEvidence: damage };
}

/** Waits (up to the verdict timeout) for the arrived guest's integrity verdict. */
async function checkDestinationConsole(destination: RunningQemu, verdictTimeoutMs: number, problems: string[]): Promise<DestinationFindings> {
  const started = Date.now();
  let text = '';
  let verdict = integrityVerdict(text);
  for (;;) {
    text = await consoleText(destination);
    verdict = integrityVerdict(text);
    if (verdict.verdict !== 'pending' || damageEvidence(text).length > 0 || Date.now() - started > verdictTimeoutMs) break;
    await sleep(200);
  }
  const damage = damageEvidence(text);
  if (damage.length > 0) problems.push(`destination console: ${damage.slice(0, 3).join(' | ')}`);
  else if (verdict.verdict === 'pending')
    problems.push(
      `no integrity check completed within ${verdictTimeoutMs / 1000} s after the switchover (console: ${consoleTail(text, 3).join(' | ') || 'empty'})`,
    );
  return {
    verdict: verdict.verdict === 'pending' ? 'no-verdict' : verdict.verdict,
    check: verdict.verdict === 'pending' ? null : verdict.check,
    waitedMs: Date.now() - started,
    evidence: damage,
  };
}

/** Stops the probe after its tail and turns its log into the network metrics and part of the record. */
async function networkContribution(
  network: NonNullable<LabHookOptions['network']>,
  running: RunningProbe,
  guestIp: string,
  problems: string[],
): Promise<MigrationContribution> {
  await sleep(parseDuration(network.settings.probe.tail));
  // a guest that answers again is slow, not cut off: then the probe log can state the outage
  const reach = await network.peer.run(reachArgv(network.prober, guestIp, 30), { allowFailure: true, timeoutMs: 40_000 });
  if (reach.exitCode !== 0) problems.push(`the guest's network is dead after the migration: ${reach.stderr.trim()}`);
  const log = running.outputFile;
  try {
    const downtime = networkDowntime(await running.stop(), parseDuration(network.settings.probe.replyTimeout) * 1000, network.settings.probe.maxStrayLoss);
    return {
      metrics: { network: downtime.lostRun?.ms ?? 0, 'network-rx-gap': downtime.rxGap?.ms ?? null },
      ...(downtime.rxGap === null ? { metricErrors: { 'network-rx-gap': 'fewer than two replies' } } : {}),
      parts: { network: { ...downtime, log } },
    };
  } catch (error) {
    const reason = (error as Error).message;
    if (reach.exitCode !== 0) problems.push(`network: ${reason}`);
    return {
      metrics: Object.fromEntries(NETWORK_METRICS.map((name) => [name, null])),
      metricErrors: Object.fromEntries(NETWORK_METRICS.map((name) => [name, reason])),
      parts: { network: { log } },
    };
  }
}

export function labHooks(o: LabHookOptions): MigrationHooks {
  /** Guests known to be up: those that passed an integrity check after arriving. */
  const healthy = new WeakSet<RunningQemu>();
  const sources = new Map<number, RunningQemu>();
  let probe: RunningProbe | undefined;
  const guestIp = o.guest.address.split('/')[0];
  const verdictTimeoutMs = parseDuration(o.guest.integrity.verdictTimeout);

  return {
    launch: ({ variant, vm }) => {
      const append = o.variantCmdlines?.get(variant.name);
      return {
        ...(o.network ? { tapInterface: TAP } : {}),
        ...(append !== undefined && vm.guest.kind === 'kernel' ? { vm: { ...vm, guest: { ...vm.guest, append } } } : {}),
      };
    },

    async beforeMigration({ planned, source, destination }) {
      await probe?.kill().catch(() => undefined);
      probe = undefined;
      sources.set(planned.seq, source);
      if (!healthy.has(source)) await waitForBoot(source, o.bootTimeoutMs);
      if (!o.network) return;
      const reach = await o.network.peer.run(reachArgv(o.network.prober, guestIp, 120), { allowFailure: true, timeoutMs: 130_000 });
      if (reach.exitCode !== 0) throw new Error(`the guest at ${guestIp} does not answer from the peer namespace: ${reach.stderr.trim()}`);
      const parameters = announceParameters(o.network.settings.announce);
      if (Object.keys(parameters).length > 0) await Promise.all([source, destination].map((q) => q.qmp.execute('migrate-set-parameters', parameters)));
      const { probe: settings } = o.network.settings;
      probe = await RunningProbe.start(
        o.network.peer,
        { binary: o.network.prober, target: guestIp, rateHz: settings.rate, replyTimeoutMs: parseDuration(settings.replyTimeout) },
        join(o.network.probeDir, probeLogName(planned.seq)),
      );
      // a stretch of normal replies before the migration starts, as the baseline
      await sleep(300);
    },

    async afterMigration({ planned, destination, from }) {
      const source = sources.get(planned.seq);
      sources.delete(planned.seq);
      const problems: string[] = [];
      const seen = source ? await checkSourceConsole(source, from, problems) : {};
      if (!destination) problems.push('no destination guest to check');
      const integrity = destination ? { ...seen, ...(await checkDestinationConsole(destination, verdictTimeoutMs, problems)) } : undefined;

      let network: MigrationContribution = {};
      if (o.network && probe) {
        const running = probe;
        probe = undefined;
        network = await networkContribution(o.network, running, guestIp, problems);
      }
      const contribution: MigrationContribution = { ...network, parts: { ...(integrity ? { integrity } : {}), ...network.parts } };
      if (problems.length === 0) {
        if (destination) healthy.add(destination);
        return contribution;
      }
      // a migration whose guest failed a check is invalid, and the next one boots a fresh guest
      return { ...contribution, invalid: `guest failed its checks after migration: ${problems.join('; ')}`, rebootGuest: true };
    },
  };
}
