/**
 * One migration over QMP, source to destination: capabilities and parameters on both sides and
 * what QEMU made of them read back (settings.ts), migrate-incoming on migration.port, migrate, then the completion events and query-migrate's
 * figures. Also the commands in order for `plan`, and the guest checks around a migration.
 */
import type { Variant } from '../profile/schema.ts';
import { DEAD_GUEST_STATES } from '../qemu/instance.ts';
import type { RunningQemu } from '../qemu/running.ts';
import type { QmpEvent } from '../qemu/qmp.ts';
import type { MigrationRamStats, MigrationSettings } from '../results/types.ts';
import { notTaken, READ_BACK, readSettings } from './settings.ts';
import { RunInterrupted, type EngineHost } from './interfaces.ts';

/** A migration that did not give a measurement: 'failed' (it did not complete) or 'invalid' (it did, but cannot be measured). */
export class MigrationFailure extends Error {
  constructor(
    message: string,
    readonly status: 'failed' | 'invalid' = 'failed',
  ) {
    super(message);
  }
}

/** The QMP events and figures a record is built from. */
export interface MigrationTiming {
  sourceSetup?: QmpEvent;
  sourceCompleted?: QmpEvent;
  destinationCompleted?: QmpEvent;
  info?: QueryMigrate;
  /** performance.now() when migrate-incoming went to the destination and when it answered. */
  incoming?: { sentAt: number; answeredAt: number };
  /** The port the destination listened on (query-migrate's socket-address). */
  port?: number;
  /** What each side's QEMU uses, read back after set-up. */
  settings?: MigrationSettings;
}

interface QueryMigrate {
  status: string;
  'total-time'?: number;
  downtime?: number;
  'setup-time'?: number;
  'error-desc'?: string;
  'socket-address'?: { type: string; host?: string; port?: string }[];
  ram?: Record<string, number | undefined>;
}

/** query-migrate's ram counters in the record's names (pure). */
export function ramStats(ram: Record<string, number | undefined> | undefined): MigrationRamStats | undefined {
  if (!ram) return undefined;
  const stats: MigrationRamStats = {
    transferredBytes: ram.transferred,
    normalPages: ram.normal,
    zeroPages: ram.duplicate,
    dirtySyncCount: ram['dirty-sync-count'],
    mbps: ram.mbps,
    precopyBytes: ram['precopy-bytes'],
    downtimeBytes: ram['downtime-bytes'],
  };
  const present = Object.entries(stats).filter(([, v]) => typeof v === 'number');
  return present.length ? (Object.fromEntries(present) as MigrationRamStats) : undefined;
}

/** The QMP commands of one migration in the order the engine sends them (also what `plan` prints). */
/** `port`: migration.port, the destination's listening port (0: QEMU picks an ephemeral one, which a firewall blocks). */
export function migrationQmpCommands(variant: Variant, destinationAddress: string, port = 0) {
  const capabilities = Object.entries({ events: true, ...variant.capabilities }).map(([capability, state]) => ({ capability, state }));
  const setUp: { execute: string; arguments: Record<string, unknown> }[] = [{ execute: 'migrate-set-capabilities', arguments: { capabilities } }];
  if (Object.keys(variant.parameters).length > 0) setUp.push({ execute: 'migrate-set-parameters', arguments: variant.parameters });
  return {
    /** Sent to both sides. */
    setUp,
    /** Then asked of both sides: the effective settings, QEMU's defaults included. */
    readBack: READ_BACK,
    incoming: { execute: 'migrate-incoming', arguments: { uri: `tcp:${destinationAddress}:${port}` } },
    migrate: (port: string) => ({ execute: 'migrate', arguments: { uri: `tcp:${destinationAddress}:${port}` } }),
  };
}

export async function requireRunning(instance: RunningQemu, what: string): Promise<void> {
  const status = await instance.status();
  if (DEAD_GUEST_STATES.has(status)) throw new MigrationFailure(`${what}: guest is ${status} on ${instance.host.hostName}`, 'failed');
  if (status !== 'running') throw new MigrationFailure(`${what}: guest is "${status}", expected "running"`, 'failed');
}

/** One migration to run: the two QEMUs, the variant's settings, the destination host and the time it may take. */
export interface MigrationRequest {
  source: RunningQemu;
  destination: RunningQemu;
  variant: Variant;
  to: EngineHost;
  /** migration.port (0: QEMU's choice). */
  port: number;
  timeoutMs: number;
  /** Aborts the migration when the run is interrupted. */
  signal?: AbortSignal;
}

/** One side's capabilities and parameters set, then what QEMU uses read back: a value it did not take as set fails the migration. */
async function setUpSide(
  q: RunningQemu,
  variant: Variant,
  setUp: ReturnType<typeof migrationQmpCommands>['setUp'],
  side: string,
): Promise<MigrationSettings['source']> {
  for (const c of setUp) await q.qmp.execute(c.execute, c.arguments);
  const effective = await readSettings(q);
  const refused = notTaken(effective, { capabilities: { events: true, ...variant.capabilities }, parameters: variant.parameters });
  if (refused.length > 0) throw new MigrationFailure(`the ${side} QEMU did not take the variant's migration settings: ${refused.join('; ')}`);
  return effective;
}

export async function migrate({ source, destination, variant, to, port, timeoutMs, signal }: MigrationRequest): Promise<MigrationTiming> {
  const commands = migrationQmpCommands(variant, to.migrationAddress, port);
  const [sourceSettings, destinationSettings] = await Promise.all([
    setUpSide(source, variant, commands.setUp, 'source'),
    setUpSide(destination, variant, commands.setUp, 'destination'),
  ]);
  const sourceMark = source.qmp.events.length;
  const destinationMark = destination.qmp.events.length;
  const incomingSentAt = performance.now();
  await destination.qmp.execute(commands.incoming.execute, commands.incoming.arguments);
  const incoming = { sentAt: incomingSentAt, answeredAt: performance.now() };
  const listening = await destination.qmp.execute<QueryMigrate>('query-migrate');
  const actualPort = listening['socket-address']?.find((a) => a.port)?.port;
  if (!actualPort) throw new MigrationFailure('destination did not report the port it listens on (query-migrate has no socket-address)');
  if (port !== 0 && Number(actualPort) !== port) throw new MigrationFailure(`destination listens on port ${actualPort}, not migration.port ${port}`);

  const isMigration = (statuses: string[]) => (e: QmpEvent) => e.event === 'MIGRATION' && statuses.includes(String(e.data?.status));
  const pauseHandler = variant.capabilities['pause-before-switchover']
    ? source.qmp
        .waitForEvent(isMigration(['pre-switchover']), timeoutMs, 'pre-switchover', sourceMark)
        .then(() => source.qmp.execute('migrate-continue', { state: 'pre-switchover' }))
    : undefined;
  pauseHandler?.catch(() => undefined);

  const migrateCommand = commands.migrate(actualPort);
  await source.qmp.execute(migrateCommand.execute, migrateCommand.arguments);
  const finished = source.qmp.waitForEvent(isMigration(['completed', 'failed', 'cancelled']), timeoutMs, 'migration completion', sourceMark);
  // The listener goes when the migration ends: a run of thousands of migrations shares one signal.
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    if (!signal) return;
    if (signal.aborted) reject(new RunInterrupted());
    onAbort = () => reject(new RunInterrupted());
    signal.addEventListener('abort', onAbort, { once: true });
  });
  let end: QmpEvent;
  try {
    end = await Promise.race([finished, aborted]);
  } catch (error) {
    if (!source.qmp.isClosed) await source.qmp.execute('migrate_cancel').catch(() => undefined);
    if (error instanceof RunInterrupted) throw error;
    if ((error as Error).name === 'QmpTimeoutError') throw new MigrationFailure(`migration did not complete within ${timeoutMs / 1000} s: cancelled`);
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  const info = await settledMigrationInfo(source, end.data?.status === 'completed');
  if (end.data?.status !== 'completed') {
    throw new MigrationFailure(`migration ${end.data?.status}${info['error-desc'] ? `: ${info['error-desc']}` : ''}`);
  }
  const destinationCompleted = await destination.qmp.waitForEvent(isMigration(['completed', 'failed']), 60_000, 'destination completion', destinationMark);
  if (destinationCompleted.data?.status !== 'completed') throw new MigrationFailure('destination reported the incoming migration failed');
  return {
    sourceSetup: source.qmp.events.slice(sourceMark).find(isMigration(['setup'])),
    sourceCompleted: end,
    destinationCompleted,
    info,
    incoming,
    port: Number(actualPort),
    settings: { source: sourceSettings, destination: destinationSettings },
  };
}

/**
 * QEMU emits the completed event before it computes total-time and downtime (they read 0 for a
 * moment), so ask again until they are filled in.
 */
async function settledMigrationInfo(source: RunningQemu, completed: boolean): Promise<QueryMigrate> {
  let info = await source.qmp.execute<QueryMigrate>('query-migrate');
  for (let i = 0; completed && !info['total-time'] && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 10));
    info = await source.qmp.execute<QueryMigrate>('query-migrate');
  }
  return info;
}
