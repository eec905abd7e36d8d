/** Writing a report's files (the only I/O of the report module besides loading the run). */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { renderHtml } from './html.ts';
import { renderMarkdown } from './markdown.ts';
import type { Summary } from './summary.ts';
import { renderText } from './text.ts';

import { DEFAULT_REPORT_FORMATS, REPORT_FORMATS, type ReportFormat } from './formats.ts';
import { screenshotHtml } from './png.ts';

export { DEFAULT_REPORT_FORMATS, REPORT_FORMATS, type ReportFormat };

export const REPORT_FILES: Record<ReportFormat, string> = {
  text: 'summary.txt',
  md: 'report.md',
  html: 'report.html',
  json: 'summary.json',
  png: 'report.png',
};

export async function renderFormat(summary: Summary, format: Exclude<ReportFormat, 'png'>): Promise<string> {
  switch (format) {
    case 'text':
      return renderText(summary);
    case 'md':
      return renderMarkdown(summary);
    case 'html':
      return renderHtml(summary);
    case 'json':
      return JSON.stringify(summary, null, 2) + '\n';
  }
}

/** Writes each format to its file in dir (atomically, so a reader never sees half a report); returns the paths. */
export async function writeReports(summary: Summary, formats: readonly ReportFormat[], dir: string): Promise<Record<string, string>> {
  const out = resolve(dir);
  await mkdir(out, { recursive: true });
  const written: Record<string, string> = {};
  for (const format of formats) {
    const path = join(out, REPORT_FILES[format]);
    // the extension stays last: Chromium picks the screenshot format from it
    const tmp = join(out, `.tmp-${REPORT_FILES[format]}`);
    if (format === 'png') await screenshotHtml(await renderHtml(summary), tmp, out);
    else await writeFile(tmp, await renderFormat(summary, format));
    await rename(tmp, path);
    written[format] = path;
  }
  return written;
}
