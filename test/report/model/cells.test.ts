/**
 * Outliers of a cell in two groups are judged within each group (issue 21: the precision run's
 * "before 256M" cell was reported as two groups while its whole fast group, migrations 38 and 39,
 * was flagged as outliers against the cell's median).
 */
import test from 'ava';
import { cellOutliers } from '../../../harness/report/model/cells.ts';
import { loadRun } from '../../../harness/report/load.ts';
import { reportSettings } from '../../../harness/report/model/settings.ts';
import { buildSummary } from '../../../harness/report/model/summary.ts';
import { twoGroups } from '../../../harness/stats/groups.ts';
import { outlierIndexes } from '../../../harness/stats/outliers.ts';

// the precision run's before 256M, in run order (seq 22 23 24 25 37 38 39 40), vdpa ms
const BEFORE_256M = [3086.804, 3147.536, 779.927, 3131.03, 3017.119, 308.807, 373.93, 3945.413];

test('against the whole cell the fast group is all "outliers"; within the groups only the one far from its own group is', (t) => {
  t.deepEqual(outlierIndexes(BEFORE_256M), [5, 6], 'what the report flagged before: the fast group itself');
  t.deepEqual(cellOutliers(BEFORE_256M), [2, 7], '779.9 ms among 308.8–373.9 ms, 3945.4 ms among 3017.1–3147.5 ms');
  const split = twoGroups(BEFORE_256M, 6)!.split;
  const fast = BEFORE_256M.flatMap((v, i) => (v < split ? [i] : []));
  t.false(
    fast.every((i) => cellOutliers(BEFORE_256M).includes(i)),
    'no group is flagged whole',
  );
});

test('a cell in one group keeps the cell-wide rule', (t) => {
  const values = [100, 101, 102, 103, 104, 105, 300];
  t.is(twoGroups(values, 6), null);
  t.deepEqual(cellOutliers(values), outlierIndexes(values));
  t.deepEqual(cellOutliers(values), [6]);
});

test('the precision run: no cell reported as two groups has a whole group flagged', async (t) => {
  const run = await loadRun('test/fixtures/two-hosts-precision');
  const summary = buildSummary({ runs: [run], settings: reportSettings(run.manifest), records: run.records });
  t.is(summary.tradeOff!.groups.length, 2);
  for (const { cellKey, groups } of summary.tradeOff!.groups) {
    const cell = summary.cells.find((c) => c.key === cellKey)!;
    const rows = summary.migrations.filter((r) => r.cell === cellKey && !r.warmup && r.status === 'ok');
    for (const side of [groups.low, groups.high]) {
      const members = rows.filter((r) => side.values.includes(r.values.vdpa!)).map((r) => r.seq);
      t.is(members.length, side.n);
      t.false(
        members.every((seq) => cell.outlierSeqs.includes(seq)),
        `${cell.label}: a whole group flagged`,
      );
    }
  }
  t.deepEqual(summary.cells.find((c) => c.key === 'before|256M|1')!.outlierSeqs, [24, 40]);
});
