/**
 * One exporter per format, as hyperfine's src/export/: the report model (a `Summary`, built once
 * by model/summary.ts) is handed to each exporter, which turns it into the bytes of its file and
 * knows nothing of the others' files. A new part of the model reaches every format as one
 * function in each renderer (text.ts, markdown.ts, html/html.ts); json.ts writes the model as it is.
 */
import type { Summary } from '../model/types.ts';
import type { ReportFormat } from './formats.ts';
import { renderHtml } from './html/html.ts';
import { screenshotHtml } from './html/png.ts';
import { renderJson } from './json.ts';
import { renderMarkdown } from './markdown.ts';
import { renderText } from './text.ts';

export interface Exporter {
  /** The file it makes in the report directory. */
  file: string;
  /**
   * The report in this format. `dir` is the report directory, for what a format needs on disk while
   * it is made (png: the page Chromium reads; a snap's Chromium cannot read the system's /tmp).
   */
  serialize(summary: Summary, dir: string): Promise<string | Uint8Array>;
}

export type TextFormat = Exclude<ReportFormat, 'png'>;

/** The text formats: the model in, the file's text out, nothing on disk (the bundle makes its reports with these). */
export const RENDERERS: Record<TextFormat, (summary: Summary) => string | Promise<string>> = {
  text: (summary) => renderText(summary),
  md: renderMarkdown,
  html: renderHtml,
  json: renderJson,
};

const text = (file: string, format: TextFormat): Exporter => ({ file, serialize: async (summary) => RENDERERS[format](summary) });

export const EXPORTERS: Record<ReportFormat, Exporter> = {
  text: text('summary.txt', 'text'),
  md: text('report.md', 'md'),
  html: text('report.html', 'html'),
  json: text('summary.json', 'json'),
  png: { file: 'report.png', serialize: async (summary, dir) => screenshotHtml(await renderHtml(summary), dir) },
};
