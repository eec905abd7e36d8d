/**
 * A run's hold on the lab. Opening it connects to the pair of hosts; claim() takes the lab lock on
 * each (first: nothing on a host is touched while another run owns the lab), ends what dead runs
 * left there and writes this run's owner record; prepareLab() sets the lab up for the run. close()
 * undoes all of it whatever happened in between, in order: the lab's teardown, QEMU's console and
 * stderr files fetched home, the run directories removed, the locks released, the connections
 * closed.
 */
import type { RunManifest } from '../results/types.ts';
import { join } from 'node:path';
import { openTransport } from '../hosts/open.ts';
import type { HostTransport } from '../hosts/transport.ts';
import { needsLab, prepareLab, type PreparedLab } from '../lab/prepare.ts';
import type { EngineHost } from '../migration/interfaces.ts';
import { removeRunDirectory } from '../migration/run-directory.ts';
import { runCommand } from '../hosts/command.ts';
import { pairHosts } from '../profile/load.ts';
import type { Profile } from '../profile/schema.ts';
import { ProvisionLedger } from '../provision/apply.ts';
import { preflightNuma } from '../provision/numa-checks.ts';
import { applySiteScripts, siteScriptsFor, undoSiteScripts, type PlannedSiteScript, type SiteOutcome } from '../provision/site-scripts.ts';
import { acquireLock, type LabLock, type RecoveredRun } from './lock.ts';
import { cleanLeftovers, describeCleanup, LabBusyError, writeOwnerRecord, type OwnerRecord } from './ownership.ts';
import type { MetricSetup, RunSelection } from './selection.ts';

type Note = (message: string) => void;

export class LabSession {
  readonly pair: [string, string];
  readonly transports = new Map<string, HostTransport>();
  readonly hosts: [EngineHost, EngineHost];
  /** The lab set up for the run (vDPA devices, QEMU builds), when it needs more than the hosts as they are. */
  lab: PreparedLab | undefined;
  private readonly locks: LabLock[] = [];
  /** Runs whose harness died holding the lab, taken over by claim(). */
  readonly recovered: RecoveredRun[] = [];
  private site: PlannedSiteScript[] = [];
  private readonly siteLedger = new ProvisionLedger();
  private siteOutcomes: SiteOutcome[] = [];

  /** `track`: wraps each host's transport (the run's: it records every process started through it). */
  constructor(
    private readonly profile: Profile,
    runId: string,
    private readonly track: (transport: HostTransport) => HostTransport = (t) => t,
    /** The run's interruption (Ctrl-C): once aborted, a lost lock is not retaken. */
    private readonly stopping?: AbortSignal,
  ) {
    this.pair = pairHosts(profile);
    for (const host of profile.hosts) if (this.pair.includes(host.name)) this.transports.set(host.name, track(openTransport(host)));
    const engineHost = (name: string): EngineHost => {
      const host = profile.hosts.find((h) => h.name === name)!;
      return { name, transport: this.transports.get(name)!, runDir: join(host.workdir, runId), migrationAddress: host.migrationAddress };
    };
    this.hosts = [engineHost(this.pair[0]), engineHost(this.pair[1])];
  }

  private workdirOf(host: EngineHost): string {
    return this.profile.hosts.find((h) => h.name === host.name)!.workdir;
  }

  async claim(owner: OwnerRecord, options: { resumeRunId?: string; profilePath: string; note: Note }): Promise<void> {
    for (const host of this.hosts) {
      // a lock whose holder died is taken over here, that run's QEMU ended (lock.ts)
      const lock = await acquireLock(host.transport, this.workdirOf(host), owner, { note: options.note });
      this.locks.push(lock);
      if (lock.recovered) this.recovered.push(lock.recovered);
      this.keepLock(host, lock, owner, options.note);
    }
    for (const host of this.hosts) {
      for (const report of await cleanLeftovers(host.transport, this.workdirOf(host), { resumeRunId: options.resumeRunId })) {
        if (report.killed.length > 0 || report.removed || report.skipped) options.note(describeCleanup(report));
      }
      await writeOwnerRecord(host.transport, host.runDir, owner);
    }
  }

  private closing = false;

  /**
   * The lock's holder ends with the connection (ssh dropped): the lock is retaken with this run's
   * own record once the connection is back (the engine reconnects), so no other run can take the
   * lab over meanwhile unnoticed. A run that is ending (closed, or interrupted: `stopping`) never
   * retakes it: it is about to release it anyway, and a lock taken after close() would be held,
   * and the harness kept alive, for ever.
   */
  private keepLock(host: EngineHost, lock: LabLock, owner: OwnerRecord, note: Note): void {
    void lock.lost.then(async () => {
      if (this.ending()) {
        note(`${host.name}: the lab lock's holder ended with the connection while the run was ending; not retaken`);
        return;
      }
      note(`${host.name}: the lab lock's holder ended with the connection; retaking it once the host is back`);
      while (!this.ending()) {
        try {
          const again = await acquireLock(host.transport, this.workdirOf(host), owner, {});
          if (this.ending()) {
            await again.release();
            return;
          }
          this.locks.push(again);
          note(`${host.name}: lab lock retaken`);
          this.keepLock(host, again, owner, note);
          return;
        } catch (error) {
          if (error instanceof LabBusyError) {
            note(`${host.name}: another run took the lab while the connection was down: ${error.message}`);
            return;
          }
          await new Promise((r) => setTimeout(r, 2_000).unref());
        }
      }
    });
  }

  private ending(): boolean {
    return this.closing || this.stopping?.aborted === true;
  }

  async prepareLab(profileFile: string, selection: RunSelection, metrics: MetricSetup, note: Note): Promise<PreparedLab | undefined> {
    // a NUMA placement the hosts cannot give stops the run before anything is set up or started
    await preflightNuma(this.profile.hosts, this.transports);
    // the site's own set-up (zx scripts) before the lab's: firmware and CPU settings come first
    this.site = siteScriptsFor(this.profile, profileFile, this.pair);
    if (this.site.length > 0) this.siteOutcomes = await applySiteScripts(this.transports, this.site, this.siteLedger, note);
    if (needsLab(this.profile, selection))
      this.lab = await prepareLab({
        profile: this.profile,
        profileFile,
        transports: this.transports,
        selection,
        metrics,
        pair: this.pair,
        log: note,
        track: this.track,
      });
    return this.lab;
  }

  /** What the manifest records of the claim and the site set-up. */
  manifestFacts(): Pick<RunManifest, 'recovered' | 'siteSetup'> {
    return {
      ...(this.recovered.length > 0 ? { recovered: this.recovered } : {}),
      ...(this.site.length > 0 ? { siteSetup: { scripts: this.siteOutcomes, ledger: this.siteLedger.entries } } : {}),
    };
  }

  /** `localRunDir`: where the run's results go (the hosts' logs are fetched into it). */
  async close(localRunDir: string, note: Note): Promise<void> {
    this.closing = true;
    const leftovers = await this.lab?.teardown().catch((error: Error) => [error.message]);
    if (leftovers?.length) note(`teardown could not undo: ${leftovers.join('; ')}`);
    const siteLeftovers = await undoSiteScripts(this.transports, this.site, this.siteLedger);
    if (siteLeftovers.length > 0) note(`teardown could not undo: ${siteLeftovers.join('; ')}`);
    if (this.locks.length > 0) {
      await Promise.allSettled(this.hosts.map((h) => collectHostLogs(h, localRunDir)));
      await Promise.allSettled([...this.hosts.map((h) => runCommand(h.transport, removeRunDirectory(h.transport, h.runDir)))]);
    }
    await Promise.allSettled(this.locks.map((l) => l.release()));
    await Promise.allSettled([...this.transports.values()].map((t) => t.close()));
  }
}

/** QEMU's console and stderr files come home with the run before the host directory goes. */
async function collectHostLogs(host: EngineHost, runDir: string): Promise<void> {
  const listing = await host.transport.run(['find', host.runDir, '-type', 'f', '(', '-path', '*/console/*', '-o', '-path', '*/stderr/*', ')'], {
    allowFailure: true,
  });
  for (const path of listing.stdout.split('\n').filter(Boolean)) {
    const relative = path.slice(host.runDir.length + 1);
    await host.transport.fetchFile(path, join(runDir, relative)).catch(() => undefined);
  }
}
