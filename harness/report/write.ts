/** Writing a report's files (the only I/O of the report module besides loading the run): each exporter's output into its file. */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EXPORTERS } from './export/exporters.ts';
import type { ReportFormat } from './export/formats.ts';
import type { Summary } from './model/types.ts';

/** Writes each format to its file in dir (atomically, so a reader never sees half a report); returns the paths. */
export async function writeReports(summary: Summary, formats: readonly ReportFormat[], dir: string): Promise<Record<string, string>> {
  const out = resolve(dir);
  await mkdir(out, { recursive: true });
  const written: Record<string, string> = {};
  for (const format of formats) {
    const { file, serialize } = EXPORTERS[format];
    const path = join(out, file);
    const tmp = join(out, `.tmp-${file}`);
    await writeFile(tmp, await serialize(summary, out));
    await rename(tmp, path);
    written[format] = path;
  }
  return written;
}
