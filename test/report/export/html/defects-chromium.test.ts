/**
 * Defects a review of the report in Chromium found (issue 21), each read from the rendered page:
 * a metric that could not be computed shows its error where the value would be and in a list; the
 * migrations table carries each migration's clock offset and uncertainty; "1 queue pair", not "1
 * queue pairs".
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderHtml } from '../../../../harness/report/export/html/html.ts';
import { loadRun } from '../../../../harness/report/load.ts';
import { reportSettings } from '../../../../harness/report/model/settings.ts';
import { buildSummary } from '../../../../harness/report/model/summary.ts';
import { withBrowser } from '../../../helpers/chromium.ts';
import { requires } from '../../../helpers/requires.ts';

const test = requires('chromium');

interface Page {
  header: string[];
  rows: Record<string, string>[];
  metricErrors: string[];
  probesText: string;
  text: string;
}

async function rendered(runDir: string): Promise<Page> {
  const run = await loadRun(runDir);
  const summary = buildSummary({ runs: [run], settings: reportSettings(run.manifest), records: run.records });
  const dir = await mkdtemp(join(tmpdir(), 'vdpa-bench-defects-'));
  const file = join(dir, 'report.html');
  await writeFile(file, await renderHtml(summary));
  try {
    return await withBrowser(async (context) => {
      const page = await context.newPage();
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      return page.evaluate(() => {
        const table = document.getElementById('migrations')!.nextElementSibling!.querySelector('table')!;
        const header = [...table.querySelectorAll('thead th')].map((th) => (th as HTMLElement).innerText.trim());
        const rows = [...table.querySelectorAll('tbody tr')].map((tr) =>
          Object.fromEntries([...tr.querySelectorAll('td')].map((td, i) => [header[i], (td as HTMLElement).innerText.trim()])),
        );
        const metricErrors = [...document.querySelectorAll('ul.metric-errors li')].map((li) => (li as HTMLElement).innerText);
        const probes = document.getElementById('probes');
        let probesText = '';
        for (let el = probes?.nextElementSibling; el && el.tagName !== 'H2'; el = el.nextElementSibling) probesText += (el as HTMLElement).innerText + '\n';
        return { header, rows, metricErrors, probesText, text: document.body.innerText };
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a metric error is shown where the value would be and listed; the probe section does not call such a log usable', async (t) => {
  const page = await rendered('test/fixtures/lab-in-a-box-damaged');
  const nine = page.rows.find((r) => r.seq === '9')!;
  t.is(nine.runstate, '10.9 ms');
  t.regex(
    nine[page.header.find((h) => /network/i.test(h) && !/gap/i.test(h))!],
    /^error: the guest could not keep up with 1000 probes\/s: 5\.7% of the probes/,
  );
  t.true(
    page.metricErrors.some((l) => l.startsWith('migration 9 (limit-100ms 512M, ok): network, network-rx-gap: the guest could not keep up with 1000 probes/s')),
  );
  t.false(page.probesText.includes('Every migration has a usable probe log'));
});

test('the migrations table gives each migration its clock offset and uncertainty; one queue pair is singular; the platform says the hosts were TCG VMs on one machine and the guest firmware only', async (t) => {
  const page = await rendered('test/fixtures/two-hosts-precision');
  t.true(page.header.includes('clock offset ± uncertainty'));
  // migration 1: offset +3 247 546 µs, uncertainty 3 499 µs (hostB's clock stepped +2.5 s on top of the boot offset)
  t.is(page.rows.find((r) => r.seq === '1')!['clock offset ± uncertainty'], '+3247.5 ms ± 3.5 ms');
  t.true(page.text.includes('128M VM, 1 queue pair'));
  t.regex(
    page.text,
    /hosts hostA \(a QEMU VM under TCG, 2 vCPUs, ssh, kernel [^)]+\), hostB \(a QEMU VM under TCG, 2 vCPUs, ssh, kernel [^)]+\), all on the machine that ran the harness; NIC vdpa_sim_net \(vhost-vDPA\); guest: firmware only \(SeaBIOS and iPXE driving the NIC, no OS\)/,
  );
  t.false(page.text.includes('1 queue pairs'));
});
