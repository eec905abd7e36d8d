/** The opt-in png format: headless Chromium screenshots the HTML report of the committed example run. */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_REPORT_FORMATS, reportRun } from '../../../../harness/report/index.ts';
import { PNG_SIZE } from '../../../../harness/report/export/html/png.ts';
import { requires } from '../../../helpers/requires.ts';
import { EXAMPLE } from '../../probe-run.ts';

const test = requires('chromium');

test('report --format png writes a PNG of the page at the documented width, and only when asked', async (t) => {
  t.false(DEFAULT_REPORT_FORMATS.includes('png'));
  const dir = await mkdtemp(join(tmpdir(), 'vdpa-bench-png-'));
  try {
    const outcome = await reportRun(EXAMPLE, { formats: ['png'], outDir: dir });
    t.deepEqual(Object.keys(outcome.files), ['png']);
    const png = await readFile(outcome.files.png);
    t.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    t.is(png.subarray(12, 16).toString('latin1'), 'IHDR');
    t.is(png.readUInt32BE(16), PNG_SIZE.width);
    t.is(png.readUInt32BE(20), PNG_SIZE.height);
    t.true(png.length > 50_000, `a drawn page, not a blank one (${png.length} bytes)`);
    t.deepEqual(await readdir(dir), ['report.png']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
