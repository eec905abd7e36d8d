import { pathToFileURL } from 'node:url';
import { withBrowser } from './chromium.ts';
const [file, out, height, ...offsets] = process.argv.slice(2);
await withBrowser(async (context) => {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto(pathToFileURL(file).href);
  if (!offsets.length) await page.screenshot({ path: out, clip: { x: 0, y: 0, width: 1400, height: Number(height) } });
  for (const y of offsets) await page.screenshot({ path: `${out}-${y}.png`, clip: { x: 0, y: Number(y), width: 1400, height: Number(height) }, fullPage: true });
});
