/**
 * A PNG of the HTML report (README screenshots, slides): the system's headless Chromium renders the
 * page from a file and screenshots the top `PNG_SIZE` of it. Only on request: Chromium may be absent.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';

export const PNG_SIZE = { width: 1400, height: 2400 };
const CHROMIUM = process.env.CHROMIUM_PATH ?? 'chromium';

/** Writes html's screenshot to `png` (a temporary copy of the page sits next to it while Chromium reads it). */
export async function screenshotHtml(html: string, png: string, dir: string): Promise<void> {
  const page = join(dir, `.report-png-${process.pid}.html`);
  await writeFile(page, html);
  try {
    const result = await execa(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--hide-scrollbars',
        `--screenshot=${png}`,
        `--window-size=${PNG_SIZE.width},${PNG_SIZE.height}`,
        pathToFileURL(page).href,
      ],
      { reject: false, timeout: 120_000 },
    );
    if (result.failed && result.exitCode === undefined && (result as { code?: string }).code === 'ENOENT')
      throw new Error(`the png format needs headless Chromium: ${CHROMIUM} not found (apt-get install chromium, or set CHROMIUM_PATH)`);
    if (result.exitCode !== 0)
      throw new Error(
        `Chromium (${CHROMIUM}) exited with ${result.exitCode ?? result.signal}: ${String(result.stderr).trim().split('\n').slice(-3).join(' | ')}`,
      );
  } finally {
    await rm(page, { force: true });
  }
}
