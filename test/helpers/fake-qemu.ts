/**
 * QEMU's recorded behaviour for the engine's unit tests, as hyperfine tests its benchmark loop
 * with a mock executor: no QEMU runs. Each launch is a scripted QEMU process speaking QMP on an
 * in-memory socket (greeting, negotiation, command ids, error classes, timestamped events) to the
 * real QmpClient and QemuInstance, and writing its trace file on the host in the log backend's
 * formats (`TID@SEC.USEC:event args` up to QEMU 10.0, ISO from 10.1). A migration replays
 * test/helpers/recorded-migration.ts; a script makes one fail, lose its destination, hang until
 * cancelled, or lose a host connection. Everything the engine asks is logged, in order.
 */
import { appendFile, open, writeFile, type FileHandle } from 'node:fs/promises';
import { Duplex } from 'node:stream';
import type { HostProcess, HostTransport, ProcessExit } from '../../harness/hosts/transport.ts';
import { QemuInstance } from '../../harness/qemu/instance.ts';
import { QmpClient } from '../../harness/qemu/qmp.ts';
import type { QemuLaunchRequest, QemuStarter } from '../../harness/qemu/running.ts';
import { RECORDED, type RecordedLine, type Side } from './recorded-migration.ts';
import { render } from './vdpa-traces.ts';

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

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Two connected in-memory socket ends: what one writes, the other reads. */
function socketPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const make = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk, _encoding, done) {
        peer().push(chunk);
        done();
      },
      destroy(error, done) {
        if (!peer().destroyed) peer().destroy();
        done(error);
      },
    });
  ends.push(
    make(() => ends[1]),
    make(() => ends[0]),
  );
  return [ends[0], ends[1]];
}

class FakeProcess implements HostProcess {
  alive = true;
  readonly exited: Promise<ProcessExit>;
  private resolveExit!: (exit: ProcessExit) => void;
  constructor(
    readonly pid: number,
    private readonly onExit: (exit: ProcessExit) => void,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }
  exit(exit: ProcessExit): void {
    if (!this.alive) return;
    this.alive = false;
    this.onExit(exit);
    this.resolveExit(exit);
  }
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.exit({ code: null, signal });
  }
}

class QmpReply extends Error {
  constructor(
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(desc);
  }
}

type MigrationInfo = Record<string, unknown> & { status: string };

/** One scripted QEMU process: its guest's state, its migration, its trace file and its QMP peer. */
class ScriptedQemu {
  readonly process: FakeProcess;
  readonly role: 'src' | 'dst';
  readonly seq: number;
  runState: string;
  traceFile: string;
  /** Open as QEMU keeps it: a file deleted under it takes the lines that follow with it. */
  private traceOutput?: FileHandle;
  readonly enabled: Set<string>;
  readonly capabilities = new Map<string, boolean>();
  migration?: MigrationInfo;
  /** query-migrate answers still to give before the completed figures are filled in. */
  unsettledQueries = 0;
  private socket?: Duplex;
  private negotiated = false;
  private buffer = '';
  private release?: (how: string) => void;
  private tid: number;

  constructor(
    private readonly fake: FakeQemu,
    readonly host: HostTransport,
    readonly request: QemuLaunchRequest,
  ) {
    const argv = request.argv;
    const after = (flag: string) => argv.filter((_, i) => argv[i - 1] === flag);
    this.role = argv.includes('-incoming') ? 'dst' : 'src';
    this.seq = Number(/^vdpa-bench-(\d+)-/.exec(after('-name')[0] ?? '')?.[1]);
    this.traceFile = after('-D')[0];
    this.enabled = new Set(after('-trace').map((t) => t.replace(/^enable=/, '')));
    this.runState = this.role === 'dst' ? 'inmigrate' : 'prelaunch';
    this.tid = fake.nextPid();
    this.process = new FakeProcess(this.tid, (exit) => {
      this.fake.note(`${request.label}: exited (${exit.signal ?? `code ${exit.code}`})`);
      this.release?.('exited');
      this.socket?.destroy();
      void this.traceOutput?.close();
      this.traceOutput = undefined;
    });
  }

  /** Creates its files as QEMU does, the source's guest starts running; returns the client end of its QMP socket. */
  async start(): Promise<Duplex> {
    if (this.traceFile !== this.request.files.traceFile) throw new Error(`-D ${this.traceFile} is not the launch's trace file`);
    await Promise.all([writeFile(this.request.files.consoleFile, ''), writeFile(this.request.files.stderrFile, '', { flag: 'a' })]);
    this.traceOutput = await open(this.traceFile, 'w');
    if (this.role === 'src') {
      const boot = RECORDED.sourceBoot;
      await this.trace(boot, this.fake.advanceClock(), boot.id!);
      this.runState = 'running';
    }
    const [client, server] = socketPair();
    this.socket = server;
    server.on('data', (chunk: Buffer) => this.onData(chunk.toString('utf8')));
    this.send({ QMP: { version: { qemu: { micro: 13, minor: 0, major: 10 }, package: 'Debian 1:10.0.13+ds-0+deb13u1' }, capabilities: ['oob'] } });
    return client;
  }

  /** Its QMP connection goes (the host connection it was forwarded over dropped); the process runs on. */
  sever(): void {
    this.socket?.destroy();
  }

  async trace(line: Pick<RecordedLine, 'name' | 'args'>, timeUs: number, tid = this.tid): Promise<void> {
    if (!this.enabled.has(line.name) || !this.process.alive) return;
    // a line QEMU was writing as it died is lost with it
    await this.traceOutput?.write(render([{ t: timeUs, name: line.name, args: line.args }], this.fake.format, tid)).catch(() => undefined);
  }

  emit(event: string, timeUs: number, data?: Record<string, unknown>): void {
    if (event === 'MIGRATION' && !this.capabilities.get('events')) return; // QEMU sends these only with the events capability
    this.send({ timestamp: { seconds: Math.floor(timeUs / 1e6), microseconds: timeUs % 1e6 }, event, ...(data ? { data } : {}) });
  }

  /** A migrate_set_state line: the state, its trace line, then its MIGRATION event. */
  async migrationState(status: string, timeUs: number, side: Side, tid = this.tid): Promise<void> {
    await this.trace({ name: 'migrate_set_state', args: `new state ${status}` }, timeUs, tid);
    this.migration = { ...this.migration, status };
    this.emit('MIGRATION', timeUs + (RECORDED.eventLagUs[side][status] ?? 10), { status });
  }

  /** Waits until a migrate-continue, migrate_cancel or the process's end releases the migration. */
  held(): Promise<string> {
    return new Promise((resolve) => (this.release = resolve));
  }

  async stderr(message: string): Promise<void> {
    await appendFile(this.request.files.stderrFile, `${new Date().toISOString()} qemu-system-x86_64: ${message}\n`);
  }

  private send(message: unknown): void {
    if (this.socket && !this.socket.destroyed) this.socket.write(JSON.stringify(message) + '\r\n');
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) !== -1) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      void this.answer(JSON.parse(line) as { execute: string; arguments?: Record<string, unknown>; id?: unknown });
    }
  }

  private async answer({ execute, arguments: args = {}, id }: { execute: string; arguments?: Record<string, unknown>; id?: unknown }): Promise<void> {
    const shown = args.uri ?? args['command-line'] ?? args.state;
    this.fake.note(`${this.request.label}: ${execute}${shown !== undefined ? ` ${String(shown)}` : ''}`);
    await tick();
    try {
      const result = await this.command(execute, args);
      this.send({ return: result ?? {}, id });
      if (execute === 'quit') {
        this.emit('SHUTDOWN', this.fake.advanceClock(), { guest: false, reason: 'host-qmp-quit' });
        // QEMU takes a moment to exit after quit: it tears the guest down and releases its devices
        await new Promise((resolve) => setTimeout(resolve, 50));
        this.process.exit({ code: 0, signal: null });
      }
    } catch (error) {
      if (!(error instanceof QmpReply)) throw error;
      this.send({ error: { class: error.errorClass, desc: error.desc }, id });
    }
  }

  private async command(execute: string, args: Record<string, unknown>): Promise<unknown> {
    if (!this.negotiated && execute !== 'qmp_capabilities') throw new QmpReply('CommandNotFound', "Expecting capabilities negotiation with 'qmp_capabilities'");
    switch (execute) {
      case 'qmp_capabilities':
        this.negotiated = true;
        return {};
      case 'query-status':
        return { status: this.runState, singlestep: false, running: this.runState === 'running' };
      case 'migrate-set-capabilities':
        for (const c of args.capabilities as { capability: string; state: boolean }[]) this.capabilities.set(c.capability, c.state);
        return {};
      case 'migrate-set-parameters':
      case 'quit':
      case 'system_reset':
        return {};
      case 'migrate-incoming':
        return this.fake.listen(this, String(args.uri));
      case 'query-migrate':
        return this.queryMigrate();
      case 'migrate':
        return this.fake.startMigration(this, String(args.uri));
      case 'migrate-continue':
        if (this.migration?.status !== args.state) throw new QmpReply('GenericError', `Migration not in expected state: ${String(args.state)}`);
        this.release?.('continue');
        return {};
      case 'migrate_cancel':
        this.release?.('cancel');
        return {};
      case 'human-monitor-command':
        return this.hmp(String(args['command-line']));
      default:
        throw new QmpReply('CommandNotFound', `The command ${execute} has not been found`);
    }
  }

  private queryMigrate(): MigrationInfo | Record<string, never> {
    if (!this.migration) return {};
    if (this.migration.status === 'completed' && this.unsettledQueries > 0) {
      this.unsettledQueries--;
      // QEMU sends the completed event before it has filled in total-time and downtime
      return { ...this.migration, 'total-time': 0, downtime: 0 };
    }
    return this.migration;
  }

  /** HMP `logfile "PATH"` reopens the trace output there (the argument in C-style quotes). */
  private async hmp(commandLine: string): Promise<string> {
    const m = /^logfile "((?:[^"\\]|\\.)*)"$/.exec(commandLine);
    if (!m) return `unknown command: '${commandLine.split(' ')[0]}'\r\n`;
    const path = m[1].replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r' })[c] ?? c);
    const previous = this.traceOutput;
    this.traceOutput = await open(path, 'a');
    await previous?.close();
    this.traceFile = path;
    return '';
  }
}

export class FakeQemu implements QemuStarter {
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
    const host = /^tcp:(.+):0$/.exec(uri)?.[1];
    if (!host) throw new QmpReply('GenericError', `unexpected incoming uri ${uri}`);
    const port = String(++this.port);
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
