/**
 * A PNG of the HTML report (README screenshots, slides): the system's headless Chromium renders the
 * page from a file and screenshots the top `PNG_SIZE` of it. Only on request: Chromium may be absent.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';

export const PNG_SIZE = { width: 1400, height: 2400 };
const CHROMIUM = process.env.CHROMIUM_PATH ?? 'chromium';

/** html's screenshot, as PNG bytes (the page and the screenshot sit in `dir` while Chromium makes it). */
export async function screenshotHtml(html: string, dir: string): Promise<Uint8Array> {
  const page = join(dir, `.report-png-${process.pid}.html`);
  // the extension stays last: Chromium picks the screenshot format from it
  const png = join(dir, `.report-png-${process.pid}.png`);
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
    return await readFile(png);
  } finally {
    await rm(page, { force: true });
    await rm(png, { force: true });
  }
}
