/**
 * A run's hold on the lab. Opening it connects to the pair of hosts; claim() takes the lab lock on
 * each (first: nothing on a host is touched while another run owns the lab), ends what dead runs
 * left there and writes this run's owner record; prepareLab() sets the lab up for the run. close()
 * undoes all of it whatever happened in between, in order: the lab's teardown, QEMU's console and
 * stderr files fetched home, the run directories removed, the locks released, the connections
 * closed.
 */
import { join } from 'node:path';
import { openTransport } from '../hosts/open.ts';
import type { HostTransport } from '../hosts/transport.ts';
import { needsLab, prepareLab, type PreparedLab } from '../lab/prepare.ts';
import type { EngineHost } from '../migration/interfaces.ts';
import { pairHosts } from '../profile/load.ts';
import type { Profile } from '../profile/schema.ts';
import { acquireLock, cleanLeftovers, describeCleanup, releaseLock, writeOwnerRecord, type OwnerRecord } from './ownership.ts';
import type { MetricSetup, RunSelection } from './selection.ts';

type Note = (message: string) => void;

export class LabSession {
  readonly pair: [string, string];
  readonly transports = new Map<string, HostTransport>();
  readonly hosts: [EngineHost, EngineHost];
  /** The lab set up for the run (vDPA devices, QEMU builds), when it needs more than the hosts as they are. */
  lab: PreparedLab | undefined;
  private readonly locks: { host: EngineHost; content: string }[] = [];

  constructor(
    private readonly profile: Profile,
    runId: string,
  ) {
    this.pair = pairHosts(profile);
    for (const host of profile.hosts) if (this.pair.includes(host.name)) this.transports.set(host.name, openTransport(host));
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
      const content = await acquireLock(host.transport, this.workdirOf(host), owner, { resumeRunId: options.resumeRunId, note: options.note, profilePath: options.profilePath });
      this.locks.push({ host, content });
    }
    for (const host of this.hosts) {
      for (const report of await cleanLeftovers(host.transport, this.workdirOf(host), { resumeRunId: options.resumeRunId })) {
        if (report.killed.length > 0 || report.removed || report.skipped) options.note(describeCleanup(report));
      }
      await writeOwnerRecord(host.transport, host.runDir, owner);
    }
  }

  async prepareLab(profileFile: string, selection: RunSelection, metrics: MetricSetup, note: Note): Promise<PreparedLab | undefined> {
    if (needsLab(this.profile, selection)) this.lab = await prepareLab(this.profile, profileFile, this.transports, selection, metrics, this.pair, note);
    return this.lab;
  }

  /** `localRunDir`: where the run's results go (the hosts' logs are fetched into it). */
  async close(localRunDir: string, note: Note): Promise<void> {
    const leftovers = await this.lab?.teardown().catch((error: Error) => [error.message]);
    if (leftovers?.length) note(`teardown could not undo: ${leftovers.join('; ')}`);
    if (this.locks.length > 0) {
      await Promise.allSettled(this.hosts.map((h) => collectHostLogs(h, localRunDir)));
      await Promise.allSettled([...this.hosts.map((h) => h.transport.run(['rm', '-rf', '--', h.runDir], { allowFailure: true }))]);
    }
    await Promise.allSettled(this.locks.map((l) => releaseLock(l.host.transport, this.workdirOf(l.host), l.content)));
    await Promise.allSettled([...this.transports.values()].map((t) => t.close()));
  }
}

/** QEMU's console and stderr files come home with the run before the host directory goes. */
async function collectHostLogs(host: EngineHost, runDir: string): Promise<void> {
  const listing = await host.transport.run(['find', host.runDir, '-type', 'f', '(', '-path', '*/console/*', '-o', '-path', '*/stderr/*', ')'], { allowFailure: true });
  for (const path of listing.stdout.split('\n').filter(Boolean)) {
    const relative = path.slice(host.runDir.length + 1);
    await host.transport.fetchFile(path, join(runDir, relative)).catch(() => undefined);
  }
}
