/**
 * QEMU's recorded behaviour for the engine's unit tests, as hyperfine tests its benchmark loop
 * with a mock executor: no QEMU runs. Each launch is a scripted QEMU process (scripted-qemu.ts)
 * speaking QMP on an in-memory socket (greeting, negotiation, command ids, error classes,
 * timestamped events) to the real QmpClient and QemuInstance, and writing its trace file on the
 * host in the log backend's formats (`TID@SEC.USEC:event args` up to QEMU 10.0, ISO from 10.1).
 * Between two of them a migration replays
 * test/helpers/recorded-migration.ts; a script makes one fail, lose its destination, hang until
 * cancelled, or lose a host connection. Everything the engine asks is logged, in order.
 */
import type { HostTransport } from '../../harness/hosts/transport.ts';
import { QemuInstance } from '../../harness/qemu/instance.ts';
import { QmpClient } from '../../harness/qemu/qmp.ts';
import type { QemuLaunchRequest, QemuStarter } from '../../harness/qemu/running.ts';
import { RECORDED, type Side } from './recorded-migration.ts';
import { QmpReply, ScriptedQemu, tick, type QemuWorld } from './scripted-qemu.ts';

/** What goes wrong in one migration (by its seq); without one it completes as recorded. */
export type Fault =
  /** The migration fails once both sides are active: query-migrate says failed with this error-desc; the destination exits. */
  | { kind: 'fail'; errorDesc: string }
  /** The destination QEMU is killed (SIGKILL) mid-migration. */
  | { kind: 'destination-dies' }
  /** The migration never converges: it stays active until migrate_cancel. */
  | { kind: 'hangs' }
  /** The connection to one side's host drops mid-migration (its QMP sockets go); the migration itself goes on. */
  | { kind: 'host-drops'; side: Side };

export interface FakeScript {
  /** The log backend's line format: QEMU <= 10.0 (default) or >= 10.1. */
  format?: 'log-legacy' | 'log-iso';
  faults?: Readonly<Record<number, Fault>>;
  /** Shared with the test's hosts, so the order of everything is in one place. */
  log?: string[];
}

/** A host transport whose connection can be dropped (test/helpers/engine-lab.ts). */
export interface Droppable {
  drop(detail: string): void;
}

export class FakeQemu implements QemuStarter, QemuWorld {
  readonly log: string[];
  readonly format: 'log-legacy' | 'log-iso';
  readonly processes: ScriptedQemu[] = [];
  private readonly listening = new Map<string, ScriptedQemu>();
  private readonly replays: Promise<void>[] = [];
  private pid = 3_900_000;
  private port = 40_000;
  private clockUs = RECORDED.sourceBoot.timeUs;

  constructor(private readonly script: FakeScript = {}) {
    this.log = script.log ?? [];
    this.format = script.format ?? 'log-legacy';
  }

  async launch(host: HostTransport, request: QemuLaunchRequest): Promise<QemuInstance> {
    const qemu = new ScriptedQemu(this, host, request);
    this.processes.push(qemu);
    this.note(`${host.hostName}: launch ${request.label}`);
    const qmp = await QmpClient.connect(await qemu.start(), request.timeoutMs);
    const instance = new QemuInstance({ host, process: qemu.process, qmp, files: request.files, label: request.label });
    instance.qmpReadyMs = RECORDED.destinationQmpReadyMs;
    return instance;
  }

  note(entry: string): void {
    this.log.push(entry);
  }

  nextPid(): number {
    return ++this.pid;
  }

  /** The fake's wall clock, a minute on per step: each boot and migration at its own time, in order. */
  advanceClock(): number {
    return (this.clockUs += 60_000_000);
  }

  /** The commands the engine sent one QEMU (by its label), in order, with their uri, state or HMP line. */
  commands(label: string): string[] {
    return this.log.filter((l) => l.startsWith(`${label}: `) && !l.includes(': exited')).map((l) => l.slice(label.length + 2));
  }

  listen(destination: ScriptedQemu, uri: string): Record<string, never> {
    if (destination.role !== 'dst') throw new QmpReply('GenericError', "'-incoming' was not specified on the command line");
    const [, host, asked] = /^tcp:(.+):(\d+)$/.exec(uri) ?? [];
    if (!host) throw new QmpReply('GenericError', `unexpected incoming uri ${uri}`);
    // as QEMU: port 0 is the kernel's pick, any other is bound as asked (and refused when taken)
    const port = asked === '0' ? String(++this.port) : asked;
    if (this.listening.has(`${host}:${port}`)) throw new QmpReply('GenericError', `Failed to bind socket: Address already in use`);
    this.listening.set(`${host}:${port}`, destination);
    destination.migration = { status: 'setup', 'socket-address': [{ port, ipv4: true, host, type: 'inet' }] };
    const setup = RECORDED.lines.find((l) => l.side === 'destination')!;
    void destination.migrationState('setup', this.clockUs + 1, 'destination', setup.id);
    return {};
  }

  startMigration(source: ScriptedQemu, uri: string): Record<string, never> {
    const destination = this.listening.get(uri.replace(/^tcp:/, ''));
    if (!destination) throw new QmpReply('GenericError', `Failed to connect to '${uri}': Connection refused`);
    this.listening.delete(uri.replace(/^tcp:/, ''));
    this.replays.push(this.replay(source, destination));
    return {};
  }

  /** Resolves once every migration started has played out (nothing is written after it). */
  async idle(): Promise<void> {
    await Promise.all(this.replays);
  }

  /** The recorded migration at this moment, both sides line by line, with the seq's fault injected. */
  private async replay(source: ScriptedQemu, destination: ScriptedQemu): Promise<void> {
    const fault = this.script.faults?.[destination.seq];
    const firstSource = RECORDED.lines.find((l) => l.side === 'source')!;
    const shift = this.advanceClock() - firstSource.timeUs;
    const lines = RECORDED.lines.filter((l) => l.timeUs >= firstSource.timeUs);
    for (const line of lines) {
      const qemu = line.side === 'source' ? source : destination;
      const t = line.timeUs + shift;
      // a QEMU that died ends the migration: the source sees its peer gone, or is gone itself
      if (!source.process.alive) return;
      if (!destination.process.alive) return this.fail(source, destination, t, 'Unable to write to socket: Connection reset by peer');
      if (line.side === 'source' && line.args === 'new state device' && source.capabilities.get('pause-before-switchover')) {
        const released = source.held();
        await source.migrationState('pre-switchover', t - 1, 'source', line.id);
        if ((await released) !== 'continue') return;
      }
      if (line.name === 'migrate_set_state') await qemu.migrationState(line.args.replace('new state ', ''), t, line.side, line.id);
      else await qemu.trace(line, t, line.id);
      if (line.name === 'runstate_set') qemu.runState = /new_state \d+ \(([^)]+)\)/.exec(line.args)![1];
      if (qemu === source && line.args === 'new state completed') {
        source.unsettledQueries = 1;
        source.migration = { ...RECORDED.queryMigrate, status: 'completed' };
      }
      await tick();
      // faults strike once both sides are active
      const bothActive = line.side === 'source' && line.args === 'new state active';
      if (bothActive && fault && (await this.inject(fault, source, destination, t))) return;
    }
  }

  /** Injects a fault; true when it ended the migration. */
  private async inject(fault: Fault, source: ScriptedQemu, destination: ScriptedQemu, t: number): Promise<boolean> {
    const fail = (errorDesc: string, status = 'failed') => this.fail(source, destination, t, errorDesc, status);
    switch (fault.kind) {
      case 'fail':
        await fail(fault.errorDesc);
        return true;
      case 'destination-dies':
        destination.process.exit({ code: null, signal: 'SIGKILL' });
        await fail('Unable to write to socket: Connection reset by peer');
        return true;
      case 'hangs': {
        if ((await source.held()) !== 'cancel' || !source.process.alive) return true;
        await source.migrationState('cancelling', t + 1000, 'source');
        await fail('', 'cancelled');
        return true;
      }
      case 'host-drops': {
        const host = (fault.side === 'source' ? source : destination).host as HostTransport & Droppable;
        host.drop('the master connection closed');
        for (const qemu of this.processes) if (qemu.host === host) qemu.sever();
        return false;
      }
    }
  }

  /** The source's migration ends (failed, or cancelled) with error-desc; a destination still running fails to load and exits. */
  private async fail(source: ScriptedQemu, destination: ScriptedQemu, t: number, errorDesc: string, status = 'failed'): Promise<void> {
    source.migration = { ...source.migration, status, ...(errorDesc ? { 'error-desc': errorDesc } : {}) };
    await source.migrationState(status, t + 1000, 'source');
    if (!destination.process.alive) return;
    await destination.migrationState('failed', t + 1200, 'destination');
    await destination.stderr('load of migration failed: Input/output error');
    destination.process.exit({ code: 1, signal: null });
  }
}
