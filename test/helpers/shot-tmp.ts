import { pathToFileURL } from 'node:url';
import { withBrowser } from './chromium.ts';
const [file, prefix, ...selectors] = process.argv.slice(2);
await withBrowser(async (context) => {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto(pathToFileURL(file).href);
  for (const s of selectors) {
    const el = page.locator(s).first();
    await el.screenshot({ path: `${prefix}-${s.replace(/[^a-z0-9-]/gi, '')}.png` });
  }
});
