import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/vdpa-bench.js', import.meta.url));

/** Runs the real CLI as a user would. */
export function vdpaBench(args: string[], options: { input?: string; env?: Record<string, string>; timeout?: number } = {}) {
  return execa(process.execPath, [BIN, ...args], { cwd: REPO, reject: false, input: options.input, env: options.env, timeout: options.timeout ?? 600_000 });
}

export function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}
