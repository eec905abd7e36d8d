/** Shared bits of the benchmarks: timing child processes with GNU time, medians, formatting. */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { median as statsMedian } from '../harness/stats/describe.ts';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const BIN = fileURLToPath(new URL('../bin/vdpa-bench.js', import.meta.url));

export interface Timed {
  wallS: number;
  cpuS: number;
  maxRssKiB: number;
  stdout: string;
  exitCode: number;
}

/** Runs argv under /usr/bin/time: wall, user+sys CPU and peak RSS of the child as the kernel saw them. */
export async function timed(argv: string[]): Promise<Timed> {
  const result = await execa('/usr/bin/time', ['-f', 'TIME %e %U %S %M', ...argv], { reject: false, cwd: REPO, maxBuffer: 1 << 28 });
  const line = String(result.stderr)
    .split('\n')
    .find((l) => l.startsWith('TIME '));
  if (!line) throw new Error(`${argv.join(' ')}: no timing (${String(result.stderr).slice(-400)})`);
  const [, wall, user, sys, rss] = line.split(' ').map(Number);
  return { wallS: wall, cpuS: user + sys, maxRssKiB: rss, stdout: String(result.stdout), exitCode: result.exitCode ?? -1 };
}

/** The fastest of n runs: on a shared machine the minimum is the run least disturbed by others. */
export async function best(n: number, argv: string[]): Promise<Timed> {
  let winner: Timed | undefined;
  for (let i = 0; i < n; i++) {
    const t = await timed(argv);
    if (!winner || t.wallS < winner.wallS) winner = { ...t, maxRssKiB: Math.max(t.maxRssKiB, winner?.maxRssKiB ?? 0) };
  }
  return winner!;
}

/** The harness's median; NaN for no values, which fmt prints as such. */
export function median(values: readonly number[]): number {
  return values.length === 0 ? NaN : statsMedian(values);
}

export const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));
export const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

export function say(line = ''): void {
  process.stdout.write(line + '\n');
}
