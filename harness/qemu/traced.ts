/**
 * A QEMU whose trace comes from a tracer attached to it (the dtrace backend): started paused
 * (`-S`, or waiting for an incoming migration), the tracer started with its pid and proven
 * attached (QMP `query-name` until the tracer prints its qmp_enter_query_name probe), only then
 * the guest continued. The tracer writes one output file per QEMU process; each migration's trace
 * file is cut from it at the points the log backend would switch files (rotateTrace), whole lines
 * only, so the engine fetches and parses the same per-migration files either way. A tracer that
 * died before its QEMU was stopped, or that reports lost events, is a fault of the migration whose
 * trace it was writing: settleTrace returns the tracer's own words.
 */
import { bound, type HostProcess, type HostTransport } from '../hosts/transport.ts';
import { completeLines, tracerLossMessages, tracerReady } from '../traces/tracer-output.ts';
import { lastWords, QemuInstance } from './instance.ts';
import type { QemuLaunchRequest, QemuStarter, RunningQemu, TracerRequest } from './running.ts';
import { tracerArgv, tracerCommand } from './tracer.ts';

/** Tracer chatter that is neither a trace line nor a loss: left out of the trace files. */
const CHATTER = /^(?:Attach(?:ing|ed) \d+ probes?\.*|Lost \d+ events?.*)$/;

export class TracedQemu implements RunningQemu {
  currentTraceFile: string;
  private segmentStart = 0;
  private stderrStart = 0;
  private stopping = false;
  private readonly tracerExit: Promise<string>;

  /** Over a started QEMU and its started tracer (launch makes both; the unit tests over a stand-in QEMU). */
  constructor(
    private readonly inner: RunningQemu,
    readonly tracer: HostProcess,
    private readonly request: TracerRequest,
  ) {
    this.currentTraceFile = inner.files.traceFile;
    // the watchdog exits with its tracer's status: above 128 the tracer was killed by a signal
    this.tracerExit = tracer.exited.then((e) =>
      e.signal ? `signal ${e.signal}` : e.code !== null && e.code > 128 ? `exit ${e.code}: the tracer was killed by signal ${e.code - 128}` : `exit ${e.code}`,
    );
  }

  get host(): HostTransport {
    return this.inner.host;
  }
  get process() {
    return this.inner.process;
  }
  get qmp() {
    return this.inner.qmp;
  }
  get files() {
    return this.inner.files;
  }
  get label() {
    return this.inner.label;
  }
  get qmpReadyMs() {
    return this.inner.qmpReadyMs;
  }
  get startup() {
    return this.inner.startup;
  }

  /** QEMU started (paused), its tracer attached and proven, the guest continued. */
  static async launch(host: HostTransport, request: QemuLaunchRequest & { tracer: TracerRequest }): Promise<TracedQemu> {
    const qemu = await QemuInstance.launch(host, request);
    const t = request.tracer;
    let tracer: HostProcess | undefined;
    try {
      tracer = await host.start(tracerArgv(t.spec, String(qemu.process.pid), t.outputFile), {
        stdoutFile: t.stderrFile,
        stderrFile: t.stderrFile,
        role: 'tracer',
      });
      const traced = new TracedQemu(qemu, tracer, t);
      await traced.waitAttached();
      if (t.continueAfterAttach) await qemu.qmp.execute('cont');
      return traced;
    } catch (error) {
      await tracer?.kill('SIGKILL').catch(() => undefined);
      await qemu.kill();
      throw error;
    }
  }

  private async read(path: string): Promise<Buffer> {
    return this.host.readFile(path).catch(() => Buffer.alloc(0));
  }

  private async waitAttached(): Promise<void> {
    const started = Date.now();
    const pid = this.process.pid;
    const command = tracerCommand(this.request.spec, String(pid))[0];
    while (Date.now() - started < this.request.attachTimeoutMs) {
      if (!this.tracer.alive) {
        const said = lastWords((await this.read(this.request.stderrFile)).toString('utf8'));
        throw new Error(`${this.host.hostName}: ${this.label}: ${command} did not attach (${await this.tracerExit})${said ? `: ${said}` : ''}`);
      }
      await this.qmp.execute('query-name');
      if (tracerReady((await this.read(this.request.outputFile)).toString('utf8'), pid)) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    const said = lastWords((await this.read(this.request.stderrFile)).toString('utf8'));
    throw new Error(
      `${this.host.hostName}: ${this.label}: ${command} printed no ${'qmp_enter_query_name'} line from pid ${pid} within ${this.request.attachTimeoutMs} ms (trace.attachTimeout)${said ? `: ${said}` : ''}`,
    );
  }

  /**
   * Writes the tracer's whole lines since the last cut into the current trace file (atomically,
   * on the host) and returns what went wrong with the capture meanwhile: the tracer's own loss
   * messages, or that it died before its QEMU was stopped.
   */
  async settleTrace(): Promise<string[]> {
    const output = await this.read(this.request.outputFile);
    const { lines } = completeLines(output, this.segmentStart);
    const text = lines.toString('utf8');
    const stderr = (await this.read(this.request.stderrFile)).subarray(this.stderrStart).toString('utf8');
    const kept = text
      .split('\n')
      .filter((l) => !CHATTER.test(l.trim()))
      .join('\n');
    // the lines on stdin (a script() would take stdin for its own text); the path as "$1"
    await this.host.run(['bash', '-c', 'cat > "$1.part" && mv -f -- "$1.part" "$1"', 'vdpa-bench-cut', this.currentTraceFile], {
      input: kept,
      timeoutMs: 60_000,
    });
    const faults = tracerLossMessages(text, stderr).map((m) => `${this.request.spec.kind} on ${this.host.hostName} (${this.label}): ${m}`);
    if (!this.tracer.alive && !this.stopping) {
      faults.push(
        `${this.request.spec.kind} on ${this.host.hostName} (${this.label}) ended before its QEMU (${await this.tracerExit})${lastWords(stderr) ? `: ${lastWords(stderr)}` : ''}: the trace is incomplete`,
      );
    }
    return faults;
  }

  async status(): Promise<string> {
    return this.inner.status();
  }

  /** The next migration's trace file: the tracer's output up to here goes to the current one. */
  async rotateTrace(path: string): Promise<void> {
    await this.settleTrace();
    const output = await this.read(this.request.outputFile);
    this.segmentStart = completeLines(output, this.segmentStart).end;
    this.stderrStart = (await this.read(this.request.stderrFile)).length;
    if (this.request.logFileFor) await this.inner.rotateTrace(this.request.logFileFor(path));
    this.currentTraceFile = path;
  }

  /** QEMU quits, then its tracer ends (the watchdog stops it once QEMU is gone; SIGKILL after 10 s). */
  async stop(timeoutMs?: number): Promise<void> {
    const diedEarly = !this.tracer.alive;
    this.stopping = !diedEarly;
    await this.inner.stop(timeoutMs);
    await this.endTracer();
  }

  async kill(): Promise<void> {
    this.stopping = this.tracer.alive;
    await this.inner.kill();
    await this.endTracer();
  }

  private async endTracer(): Promise<void> {
    if (this.tracer.alive) await this.tracer.kill('SIGINT').catch(() => undefined);
    const ended = await Promise.race([this.tracer.exited.then(() => true), bound(10_000).then(() => false)]);
    if (!ended) await this.tracer.kill('SIGKILL').catch(() => undefined);
  }

  async stderrTail(lines?: number): Promise<string> {
    return this.inner.stderrTail(lines);
  }
}

/** Starts QEMU for real; a launch with a tracer request gets its tracer (the dtrace backend). */
export const tracedOrPlainQemu: QemuStarter = {
  launch: (host, request) => (request.tracer ? TracedQemu.launch(host, { ...request, tracer: request.tracer }) : QemuInstance.launch(host, request)),
};
