/**
 * Migration hooks of the lab in a box: a tap NIC per host, guest readiness before a migration, a
 * fixed-rate probe across the switchover, and the guest-integrity verdict afterwards.
 */
import { join } from 'node:path';
import { consoleTail, damageEvidence, guestReady, integrityVerdict, lastWorkloadRate } from '../guest/console.ts';
import type { HostTransport } from '../hosts/transport.ts';
import { networkDowntime, probeLogName, type NetworkDowntime } from '../metrics/network.ts';
import type { MigrationHooks } from '../migration/interfaces.ts';
import type { BuiltinLinuxGuest, NetworkLab } from '../profile/schema.ts';
import { parseDuration } from '../profile/size.ts';
import type { RunningQemu } from '../qemu/running.ts';
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
type MigrationRecord = AfterMigration['record'];

/** What the checks after a migration fill in: the record, its integrity evidence and the problems found. */
interface GuestChecks {
  record: MigrationRecord;
  integrity: Record<string, unknown>;
  problems: string[];
}

/** The source's console after the switchover: the workload's last dirty rate and any damage it printed. */
async function checkSourceConsole(source: RunningQemu, from: AfterMigration['from'], { integrity, problems }: GuestChecks): Promise<void> {
  const sourceText = await from.transport.readFile(source.files.consoleFile).then(
    (b) => b.toString('utf8'),
    () => '',
  );
  integrity.guestDirtyRateMBps = lastWorkloadRate(sourceText);
  const damage = damageEvidence(sourceText);
  if (damage.length > 0) problems.push(`source console: ${damage.slice(0, 3).join(' | ')}`);
  integrity.sourceEvidence = damage;
}

/** Waits (up to the verdict timeout) for the arrived guest's integrity verdict and records it. */
async function checkDestinationConsole(destination: RunningQemu, verdictTimeoutMs: number, { integrity, problems }: GuestChecks): Promise<void> {
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
  integrity.verdict = verdict.verdict === 'pending' ? 'no-verdict' : verdict.verdict;
  integrity.check = verdict.verdict === 'pending' ? null : verdict.check;
  integrity.waitedMs = Date.now() - started;
  integrity.evidence = damage;
  if (damage.length > 0) problems.push(`destination console: ${damage.slice(0, 3).join(' | ')}`);
  else if (verdict.verdict === 'pending')
    problems.push(
      `no integrity check completed within ${verdictTimeoutMs / 1000} s after the switchover (console: ${consoleTail(text, 3).join(' | ') || 'empty'})`,
    );
}

/** Stops the probe after its tail and turns its log into the network metrics of the record. */
async function recordNetworkDowntime(
  network: NonNullable<LabHookOptions['network']>,
  running: RunningProbe,
  guestIp: string,
  { record, problems }: GuestChecks,
): Promise<void> {
  await sleep(parseDuration(network.settings.probe.tail));
  // a guest that answers again is slow, not cut off: then the probe log can state the outage
  const reach = await network.peer.run(reachArgv(network.prober, guestIp, 30), { allowFailure: true, timeoutMs: 40_000 });
  if (reach.exitCode !== 0) problems.push(`the guest's network is dead after the migration: ${reach.stderr.trim()}`);
  let downtime: NetworkDowntime | undefined;
  try {
    downtime = networkDowntime(await running.stop(), parseDuration(network.settings.probe.replyTimeout) * 1000, network.settings.probe.maxStrayLoss);
    record.metrics.network = downtime.lostRun?.ms ?? 0;
    record.metrics['network-rx-gap'] = downtime.rxGap?.ms ?? null;
    if (downtime.rxGap === null) record.metricErrors = { ...record.metricErrors, 'network-rx-gap': 'fewer than two replies' };
  } catch (error) {
    const reason = (error as Error).message;
    for (const name of NETWORK_METRICS) record.metrics[name] = null;
    record.metricErrors = { ...record.metricErrors, network: reason, 'network-rx-gap': reason };
    if (reach.exitCode !== 0) problems.push(`network: ${reason}`);
  }
  record.extra = { ...record.extra, network: { ...downtime, log: running.outputFile } };
}

/** A migration whose guest failed a check is invalid, its earlier reason kept. */
function markGuestFailed({ record, problems }: GuestChecks): void {
  const earlier = record.status === 'invalid' && record.reason ? `; ${record.reason}` : '';
  record.status = 'invalid';
  record.downtimeMs = null;
  record.reason = `guest failed its checks after migration: ${problems.join('; ')}${earlier}`;
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

    async afterMigration({ planned, record, destination, from }) {
      const source = sources.get(planned.seq);
      sources.delete(planned.seq);
      const checks: GuestChecks = { record, integrity: {}, problems: [] };
      if (source) await checkSourceConsole(source, from, checks);
      if (destination) {
        await checkDestinationConsole(destination, verdictTimeoutMs, checks);
        record.extra = { ...record.extra, integrity: checks.integrity };
      } else {
        checks.problems.push('no destination guest to check');
      }

      if (o.network && probe) {
        const running = probe;
        probe = undefined;
        await recordNetworkDowntime(o.network, running, guestIp, checks);
      }

      if (checks.problems.length === 0) {
        if (destination) healthy.add(destination);
        return;
      }
      markGuestFailed(checks);
      return { rebootGuest: true };
    },
  };
}
