import { readdir, readFile } from 'node:fs/promises';

/** pids of live processes whose command line contains `needle` (this test's own run id or path). */
export async function processesMatching(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle) && Number(entry) !== process.pid) pids.push(Number(entry));
  }
  return pids;
}
