/** `run` ends by writing the reports and printing the text summary; stdout's last line stays the run directory. Real QEMU, two short migrations. */
import { access, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Summary } from '../../harness/report/model/types.ts';
import { lastLine, vdpaBench } from '../helpers/cli.ts';
import { requires } from '../helpers/requires.ts';

const test = requires('qemu');

test('run writes reports/<run-id>/ and prints the summary on stderr', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vdpa-bench-run-reports-'));
  try {
    const result = await vdpaBench([
      'run',
      'profiles/local.yaml',
      '--vm-size',
      '256M',
      '--iterations',
      '1',
      '--warmup',
      '0',
      '--out',
      join(dir, 'results'),
      '--reports',
      join(dir, 'reports'),
      '--workdir',
      join(dir, 'hosts'),
    ]);
    t.is(result.exitCode, 0, result.stderr);
    const runDir = lastLine(result.stdout);
    await access(join(runDir, 'iterations.ndjson'));
    const runId = basename(runDir);
    t.regex(
      result.stderr,
      /Using a guest without a NIC, back-to-back live migrations, precopy -> pause-before-switchover: mean downtime by the "runstate" metric/,
    );
    t.regex(result.stderr, /\n- 256M VM: {2}(\d+\.\d+)(m?s) -> \d+\.\d+\2 \([+-]\d+\.\d+\2, ~\d+% (lower|higher), not significant: p = 1\.000, n = 1\/1\)\n/);
    t.deepEqual((await readdir(join(dir, 'reports', runId))).sort(), ['report.html', 'report.md', 'summary.json', 'summary.txt']);
    const summary = JSON.parse(await readFile(join(dir, 'reports', runId, 'summary.json'), 'utf8')) as Summary;
    t.is(summary.totals.measured, 2);
    t.is(summary.totals.ok + summary.totals.failed + summary.totals.invalid, 2);
    t.is(summary.runs[0].runId, runId);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
