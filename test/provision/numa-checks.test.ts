/**
 * The NUMA preflight against this machine (one node, its CPUs): a node or CPU it lacks is named
 * with what it has, and a whole run stops there, before any QEMU starts.
 */
import test from 'ava';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { loadProfile } from '../../harness/profile/load.ts';
import { numaCheck, preflightNuma } from '../../harness/provision/numa-checks.ts';
import { PreflightError } from '../../harness/provision/preflight.ts';
import { runBenchmark } from '../../harness/run/run.ts';
import { requires } from '../helpers/requires.ts';

const host = new LocalTransport('here');

test('preflight names a node and a CPU this host does not have, and what it has', async (t) => {
  const nodes = (await host.run(['cat', '/sys/devices/system/node/online'], { allowFailure: true })).stdout.trim() || 'missing';
  const check = numaCheck({ memory: { hostNodes: [0, 7], policy: 'bind' }, vcpus: '0,511', emulator: '0' });
  t.is(check.name, 'NUMA placement: guest RAM bind to node(s) 0,7, threads on CPUs 0,511');
  const said = check.evaluate(await host.script((check.command as { script: string }).script));
  t.truthy(said);
  if (nodes === 'missing') t.regex(said!, /shows no NUMA nodes/);
  else t.regex(said!, new RegExp(`numa.memory.hostNodes: node 7 does not exist on this host \\(its nodes: ${nodes}\\)`));
  t.regex(said!, /numa\.vcpus\/emulator: CPU 511 is not online on this host \(online: 0(-\d+)?\)/);
  const error = await t.throwsAsync(preflightNuma([{ name: 'here', numa: { memory: { hostNodes: [7], policy: 'bind' } } }], new Map([['here', host]])), {
    instanceOf: PreflightError,
  });
  t.regex(error!.message, /^preflight found 1 problem:\n {2}here: numa\.memory\.hostNodes: node 7 does not exist/);
  // hosts not in this run are not asked
  await t.notThrowsAsync(
    preflightNuma(
      [
        { name: 'here', numa: { vcpus: '0' } },
        { name: 'elsewhere', numa: { vcpus: '999' } },
      ],
      new Map([['here', host]]),
    ),
  );
});

test('taskset missing is said for a placement that pins threads', (t) => {
  const check = numaCheck({ vcpus: '0' });
  t.regex(check.evaluate({ exitCode: 0, stdout: 'nodes 0\ncpus 0-1\ntaskset no\n', stderr: '' })!, /the taskset command is missing \(install util-linux\)/);
  t.is(check.evaluate({ exitCode: 0, stdout: 'nodes 0\ncpus 0-1\ntaskset yes\n', stderr: '' }), null);
  t.is(
    numaCheck({ memory: { hostNodes: [1], policy: 'bind' } }).evaluate({ exitCode: 0, stdout: 'nodes 0-1\ncpus 0-3\ntaskset no\n', stderr: '' }),
    null,
    'binding memory needs no taskset',
  );
});

requires('qemu')('a run whose host names a node this machine lacks stops in preflight, before any QEMU starts', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'vb-numa-run-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const doc = parseDocument(await readFile(new URL('../../profiles/local.yaml', import.meta.url), 'utf8'));
  for (const index of [0, 1]) doc.setIn(['hosts', index, 'workdir'], join(dir, 'work'));
  doc.setIn(['hosts', 1, 'numa'], doc.createNode({ memory: { hostNodes: [7], policy: 'bind' } }));
  const file = join(dir, 'numa.yaml');
  await writeFile(file, doc.toString());
  const error = await t.throwsAsync(
    runBenchmark(await loadProfile(file), {
      iterations: 1,
      warmup: 0,
      vmSizes: ['128M'],
      variants: ['precopy'],
      outDir: join(dir, 'results'),
      progress: { blockStarted() {}, migrationDone() {}, note() {} },
    }),
    { instanceOf: PreflightError },
  );
  t.regex(error!.message, /hostB: numa\.memory\.hostNodes: node 7 does not exist on this host \(its nodes: /);
  const runs = await readdir(join(dir, 'results'));
  const started = (await readFile(join(dir, 'results', runs[0], 'argv.ndjson'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { argv: string[] });
  t.false(
    started.some((s) => s.argv.some((a) => a.includes('qemu-system'))),
    'no QEMU ran, not even its version',
  );
});
