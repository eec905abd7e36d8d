import test from 'ava';
import { decomposeMeanShift } from '../../harness/stats/decompose.ts';
import { twoGroups } from '../../harness/stats/groups.ts';

const settings = { resamples: 2000, confidence: 0.95, seed: 1 };

test('the parts of a mean shift add up to it, each with an interval around its estimate', (t) => {
  // [pinning, the rest]: the candidate moved pinning out (−1000 ms) and the rest barely changed
  const baseline = [
    [1400, 160],
    [1500, 150],
    [1350, 170],
    [1450, 140],
    [1480, 155],
    [1420, 165],
  ];
  const candidate = [
    [0, 150],
    [0, 160],
    [0, 140],
    [0, 155],
    [0, 145],
    [0, 150],
  ];
  const d = decomposeMeanShift(['pinning', 'rest'], baseline, candidate, settings)!;
  const sum = d.parts.reduce((s, p) => s + p.shift, 0);
  t.true(Math.abs(sum - d.total.shift) < 1e-9);
  t.is(Math.round(d.parts[0].shift), -1433);
  t.true(d.parts[0].ci[0] < d.parts[0].shift && d.parts[0].shift < d.parts[0].ci[1]);
  t.true(d.parts[1].ci[0] < 0 && d.parts[1].ci[1] > -20, 'the rest: a shift of a few ms, the interval across it');
  t.deepEqual(decomposeMeanShift(['a'], [], [[1]], settings), null);
  t.deepEqual(
    decomposeMeanShift(['a'], [[1]], [[2]], settings),
    decomposeMeanShift(['a'], [[1]], [[2]], settings),
    'seeded: the same data gives the same intervals',
  );
});

test('two groups: n, median and range of each and the split point (the 512M before cell of the precision run)', (t) => {
  const values = [6157, 419, 324, 1374, 7755, 6458, 349, 6871];
  const g = twoGroups(values, 6)!;
  t.deepEqual([g.low.n, g.low.median, g.low.min, g.low.max], [4, 384, 324, 1374]);
  t.deepEqual([g.high.n, g.high.median, g.high.min, g.high.max], [4, 6664.5, 6157, 7755]);
  t.is(g.split, (1374 + 6157) / 2);
  t.is(twoGroups([100, 120, 150, 190, 240, 300, 370], 6), null);
});
