/**
 * One scripted QEMU process for test/helpers/fake-qemu.ts: what it was started with (-name, -D,
 * -trace enable=, -incoming defer), its guest's run state, its migration state as query-migrate
 * tells it, its trace file (kept open as QEMU keeps it, rotated by HMP `logfile`), and QMP spoken
 * on an in-memory socket as QEMU speaks it (greeting, negotiation, ids, error classes, events).
 */
import { open, writeFile, appendFile, type FileHandle } from 'node:fs/promises';
import { Duplex } from 'node:stream';
import type { HostProcess, HostTransport, ProcessExit } from '../../harness/hosts/transport.ts';
import type { QemuLaunchRequest } from '../../harness/qemu/running.ts';
import { RECORDED, type RecordedLine, type Side } from './recorded-migration.ts';
import { render } from './vdpa-traces.ts';
import { QEMU_10_SETTINGS } from './qemu-settings.ts';

export const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

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

/** An error reply QEMU gives to a command (its class and description). */
export class QmpReply extends Error {
  constructor(
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(desc);
  }
}

type MigrationInfo = Record<string, unknown> & { status: string };

/** What a scripted QEMU needs from the fake that started it: its log, clock, pids, and the migrations between QEMUs. */
export interface QemuWorld {
  readonly format: 'log-legacy' | 'log-iso';
  note(entry: string): void;
  nextPid(): number;
  advanceClock(): number;
  listen(destination: ScriptedQemu, uri: string): Record<string, never>;
  startMigration(source: ScriptedQemu, uri: string): Record<string, never>;
}

/** One scripted QEMU process: its guest's state, its migration, its trace file and its QMP peer. */
export class ScriptedQemu {
  readonly process: FakeProcess;
  readonly role: 'src' | 'dst';
  readonly seq: number;
  runState: string;
  traceFile: string;
  /** Open as QEMU keeps it: a file deleted under it takes the lines that follow with it. */
  private traceOutput?: FileHandle;
  readonly enabled: Set<string>;
  /** As QEMU 10.0 starts: every capability off, every parameter at its default (the captured answers), then what was set. */
  readonly capabilities = new Map<string, boolean>(QEMU_10_SETTINGS.capabilities.map((c) => [c.capability, c.state]));
  readonly parameters: Record<string, unknown> = { ...QEMU_10_SETTINGS.parameters };
  migration?: MigrationInfo;
  /** query-migrate answers still to give before the completed figures are filled in. */
  unsettledQueries = 0;
  private socket?: Duplex;
  private negotiated = false;
  private buffer = '';
  private release?: (how: string) => void;
  private tid: number;

  constructor(
    private readonly fake: QemuWorld,
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
        for (const c of args.capabilities as { capability: string; state: boolean }[]) {
          if (!this.capabilities.has(c.capability)) throw new QmpReply('GenericError', `Parameter 'capability' does not accept value '${c.capability}'`);
          this.capabilities.set(c.capability, c.state);
        }
        return {};
      case 'migrate-set-parameters':
        // QEMU's QAPI input visitor refuses a member the command does not have
        for (const name of Object.keys(args))
          if (!(name in QEMU_10_SETTINGS.parameters)) throw new QmpReply('GenericError', `Parameter '${name}' is unexpected`);
        Object.assign(this.parameters, args);
        return {};
      case 'query-migrate-capabilities':
        return [...this.capabilities].map(([capability, state]) => ({ state, capability }));
      case 'query-migrate-parameters':
        return { ...this.parameters };
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
