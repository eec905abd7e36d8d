/**
 * The migration engine (runSchedule → block → migrate → record) run against recorded QEMU
 * behaviour (test/helpers/fake-qemu.ts): two hosts on this machine, each with its own run
 * directory where the scripted QEMU writes its traces, a real results store, the profile's real
 * schedule and metric rules. A host's connection can drop and come back (or not), as an ssh one
 * does; every launch, QMP command, trace fetch and note lands in one ordered log.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { sameMachineClock } from '../../harness/hosts/clock.ts';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { HostUnreachableError, type ConnectionLoss, type Reconnected, type RunOptions, type RunResult } from '../../harness/hosts/transport.ts';
import { runSchedule } from '../../harness/migration/engine.ts';
import type { EngineHost, EngineOptions, MigrationHooks } from '../../harness/migration/interfaces.ts';
import type { Cell } from '../../harness/profile/cell.ts';
import { parseProfile } from '../../harness/profile/load.ts';
import { readIterations, RunStore } from '../../harness/results/store.ts';
import type { IterationRecord } from '../../harness/results/types.ts';
import { metricSetup, scheduleFor, selectMatrix } from '../../harness/run/selection.ts';
import { FakeQemu, type Droppable, type FakeScript } from './fake-qemu.ts';

/** A host on this machine whose connection can drop as an ssh one does: while it is down, everything over it fails. */
export class LabHost extends LocalTransport implements Droppable {
  private lost?: ConnectionLoss;
  /** Whether a dropped connection comes back when the engine reconnects. */
  comesBack = true;
  /** Held before a trace is fetched (to observe what runs meanwhile). */
  beforeFetch?: (hostPath: string) => Promise<void>;

  constructor(
    hostName: string,
    private readonly log: string[],
  ) {
    super(hostName);
  }

  drop(detail: string): void {
    this.lost = { since: new Date(), connection: `ssh root@${this.hostName} port 22`, detail };
    this.log.push(`${this.hostName}: connection lost`);
  }

  async connectionLost(): Promise<ConnectionLoss | null> {
    return this.lost ?? null;
  }

  async reconnect(): Promise<Reconnected> {
    const lost = this.lost;
    if (!lost) return { since: new Date(), attempts: 0, downMs: 0 };
    if (!this.comesBack) throw new HostUnreachableError(this.hostName, lost.since, `${lost.connection}: no answer`);
    this.lost = undefined;
    this.log.push(`${this.hostName}: reconnected`);
    return { since: lost.since, attempts: 2, downMs: Date.now() - lost.since.getTime() };
  }

  private up(what: string): void {
    if (this.lost) throw new Error(`${this.hostName}: ${what}: ${this.lost.connection}: connection closed`);
  }

  override async run(argv: readonly string[], options?: RunOptions): Promise<RunResult> {
    this.up(argv[0]);
    return super.run(argv, options);
  }

  override async readFile(path: string): Promise<Buffer> {
    this.up('read');
    return super.readFile(path);
  }

  override async fetchFile(hostPath: string, localPath: string): Promise<void> {
    this.up('fetch');
    await this.beforeFetch?.(hostPath);
    await super.fetchFile(hostPath, localPath);
    this.log.push(`${this.hostName}: fetched ${basename(hostPath)}`);
  }
}

const PROFILE_HEAD = `name: engine-unit
hosts:
  - { name: hostA, transport: { kind: local } }
  - { name: hostB, transport: { kind: local } }
vm:
  accel: tcg
  memory: { backend: file, share: true }
design: { order: sequential }
# the events of the recorded migration (test/helpers/recorded-migration.ts)
trace: { events: [runstate_set, migrate_set_state, vmstate_downtime_checkpoint] }
metrics: { primary: runstate, use: [runstate, checkpoint] }
compare: { noiseThresholdPct: 5 }
`;

export interface EngineLabOptions
  extends FakeScript, Partial<Pick<EngineOptions, 'sampling' | 'failureStreaks' | 'abandonedCells' | 'done' | 'signal' | 'clock'>> {
  /** The profile after its hosts, vm, design and trace settings: variants, matrix, iterations, migration. */
  profile: string;
  hooks?: MigrationHooks[];
  /** Set up the hosts before the run (make one's connection stay away, hold a fetch). */
  hosts?(hosts: [LabHost, LabHost]): void;
}

export interface EngineLabRun {
  /** As read back from iterations.ndjson. */
  records: IterationRecord[];
  /** What runSchedule threw (a run stopped by an unreachable host, an interruption). */
  error?: Error;
  log: string[];
  notes: string[];
  abandoned: { cell: Cell; reason: string; afterSeq: number }[];
  fake: FakeQemu;
  hosts: [LabHost, LabHost];
  /** The test's directory: each host's run directory (dir/hostA, dir/hostB) and the results (dir/results). */
  dir: string;
  storeDir: string;
}

/** Runs a profile's whole schedule through the engine against the fake; everything is removed when the test ends. */
export async function engineLab(t: Pick<ExecutionContext, 'teardown'>, o: EngineLabOptions): Promise<EngineLabRun> {
  const dir = await mkdtemp(join(tmpdir(), 'vdpa-bench-engine-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const profile = parseProfile(`${PROFILE_HEAD}${o.profile}`);
  const log: string[] = o.log ?? [];
  const notes: string[] = [];
  const abandoned: EngineLabRun['abandoned'] = [];
  const hosts: [LabHost, LabHost] = [new LabHost('hostA', log), new LabHost('hostB', log)];
  o.hosts?.(hosts);
  const engineHost = (transport: LabHost): EngineHost => ({
    name: transport.hostName,
    transport,
    runDir: join(dir, transport.hostName),
    migrationAddress: '127.0.0.1',
  });
  const store = await RunStore.create(dir, 'results');
  const metrics = metricSetup(profile);
  const fake = new FakeQemu({ ...o, log });
  let error: Error | undefined;
  try {
    await runSchedule(scheduleFor(profile, selectMatrix(profile, {})), {
      profile,
      store,
      hosts: [engineHost(hosts[0]), engineHost(hosts[1])],
      accel: 'tcg',
      binaries: new Map(profile.variants.map((v) => [v.name, 'qemu-system-x86_64'])),
      qemu: fake,
      traceEvents: new Map(profile.variants.map((v) => [v.name, metrics.traceEvents])),
      metrics: { primary: metrics.primary, names: metrics.names, rules: metrics.rules },
      clock: o.clock ?? sameMachineClock,
      progress: {
        blockStarted: (block) => log.push(`block ${block.index}: ${block.cell.variant}`),
        migrationDone: (record) => log.push(`recorded ${record.seq}: ${record.status}`),
        note: (message) => notes.push(message),
      },
      hooks: o.hooks,
      sampling: o.sampling,
      signal: o.signal,
      done: o.done,
      failureStreaks: o.failureStreaks,
      abandonedCells: o.abandonedCells,
      onCellAbandoned: (cell, reason, afterSeq) => void abandoned.push({ cell, reason, afterSeq }),
    });
  } catch (caught) {
    error = caught as Error;
  } finally {
    await fake.idle();
    await store.close();
  }
  const { records } = await readIterations(store.dir);
  return { records, error, log, notes, abandoned, fake, hosts, dir, storeDir: store.dir };
}
