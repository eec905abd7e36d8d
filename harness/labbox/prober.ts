/** Builds the ICMP prober (gcc, cached by source hash) and runs it in the peer namespace. */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { cacheRoot } from '../guest/build.ts';
import type { HostProcess, HostTransport } from '../hosts/transport.ts';
import { parseProbeLog, type ProbeLog } from '../metrics/network.ts';
import { repoFile } from '../root.ts';

const SOURCE = repoFile('harness/labbox/icmp-prober.c');

/** Where the prober for this source lives in the cache, and the gcc command that builds it there. */
export async function proberBuild(): Promise<{ binary: string; gcc: string[] }> {
  const source = await readFile(SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const binary = join(cacheRoot(), 'bin', `icmp-prober-${hash}`);
  return { binary, gcc: ['gcc', '-O2', '-Wall', '-o', binary, SOURCE.pathname] };
}

/** What a probe sends: `rateHz` echo requests a second to `target` for at most `maxSeconds` (900 unless given). */
export interface ProbeSettings {
  binary: string;
  target: string;
  rateHz: number;
  replyTimeoutMs: number;
  maxSeconds?: number;
}

/** The prober's command line for these settings. */
export function proberArgv({ binary, target, rateHz, replyTimeoutMs, maxSeconds = 900 }: ProbeSettings): string[] {
  return [binary, '-t', target, '-r', String(rateHz), '-n', String(rateHz * maxSeconds), '-d', String(Math.ceil(replyTimeoutMs))];
}

export async function buildProber(): Promise<string> {
  const { binary, gcc } = await proberBuild();
  const dir = dirname(binary);
  const exists = await execa('test', ['-x', binary], { reject: false });
  if (exists.exitCode === 0) return binary;
  await mkdir(dir, { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  // built under a temporary name, renamed into place: a concurrent run never sees half a binary
  const result = await execa(gcc[0], gcc.map((a) => (a === binary ? partial : a)).slice(1), { reject: false });
  if (result.exitCode !== 0)
    throw new Error(
      `building the ICMP prober failed (gcc ${result.failed && result.exitCode === undefined ? 'not found' : `exited ${result.exitCode}`}): ${String(result.stderr ?? result.message).trim()}`,
    );
  await rename(partial, binary);
  return binary;
}

/** How long a prober may take to write its log and exit after SIGTERM. */
const STOP_GRACE_MS = 30_000;

export class RunningProbe {
  private constructor(
    readonly process: HostProcess,
    readonly outputFile: string,
    private readonly host: HostTransport,
  ) {}

  /** Starts probing from `host`, the log going to `outputFile` there. */
  static async start(host: HostTransport, settings: ProbeSettings, outputFile: string): Promise<RunningProbe> {
    await host.run(['rm', '-f', outputFile]);
    const process = await host.start(proberArgv(settings), {
      stdoutFile: outputFile,
      stderrFile: `${outputFile}.err`,
      role: 'prober',
    });
    return new RunningProbe(process, outputFile, host);
  }

  /** Stops probing and returns the log (the prober writes it as it exits). */
  async stop(): Promise<ProbeLog> {
    await this.process.kill('SIGTERM');
    // the timer is cleared once the prober exits: left pending, it kept the finished command
    // alive for up to 30 s after its last line (measured: 27 s after a lab-in-a-box run)
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([this.process.exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), STOP_GRACE_MS)))]).finally(() =>
      clearTimeout(timer),
    );
    if (!exit) {
      await this.process.kill('SIGKILL');
      throw new Error(`the prober did not exit within ${STOP_GRACE_MS / 1000} s of SIGTERM`);
    }
    const text = (await this.host.readFile(this.outputFile)).toString('utf8');
    if (exit.code !== 0) {
      const stderr = await this.host.readFile(`${this.outputFile}.err`).then(
        (b) => b.toString('utf8').trim(),
        () => '',
      );
      throw new Error(`the prober exited with ${exit.code ?? exit.signal}${stderr ? `: ${stderr}` : ''}`);
    }
    return parseProbeLog(text);
  }

  async kill(): Promise<void> {
    await this.process.kill('SIGKILL');
  }
}
