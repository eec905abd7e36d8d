/**
 * The rehearsal (profiles/softlab-two-hosts.yaml) against the real lab (profiles/cx6dx-lab.yaml):
 * the same shape, and every difference between them listed in docs/two-host-lab.md, no more, no
 * fewer. Editing either profile without the docs (or the docs without the profiles) fails here.
 */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadProfile } from '../../harness/profile/load.ts';
import { formatDifference, structuralDiff } from '../../harness/profile/structural-diff.ts';
import { profileSchema } from '../../harness/profile/schema.ts';
import { REPO } from '../helpers/cli.ts';

const real = (await loadProfile(join(REPO, 'profiles/cx6dx-lab.yaml'))).profile;
const rehearsal = (await loadProfile(join(REPO, 'profiles/softlab-two-hosts.yaml'))).profile;

test("the two-host soft lab has the real lab's shape: two ssh hosts, a vDPA section each, the same metrics, variants and comparison", (t) => {
  for (const p of [real, rehearsal]) {
    t.is(p.hosts.length, 2, p.name);
    t.true(
      p.hosts.every((h) => h.transport.kind === 'ssh' && h.vdpa !== undefined && h.migrationAddress !== undefined),
      p.name,
    );
    t.not(p.hosts[0].migrationAddress, p.hosts[1].migrationAddress, `${p.name}: the migration stream crosses between two addresses`);
  }
  t.deepEqual(rehearsal.pair, ['hostA', 'hostB']);
  t.deepEqual(rehearsal.metrics, real.metrics);
  t.deepEqual(rehearsal.metrics.use, ['vdpa', 'vdpa-ready', 'checkpoint', 'runstate']);
  t.deepEqual(
    rehearsal.variants.map((v) => v.name),
    real.variants.map((v) => v.name),
  );
  t.deepEqual(rehearsal.compare, real.compare);
  t.deepEqual(rehearsal.design, real.design);
});

test('docs/two-host-lab.md lists exactly the differences between the two profiles', async (t) => {
  const docs = await readFile(join(REPO, 'docs/two-host-lab.md'), 'utf8');
  const block = /<!-- profile-diff:start -->\n```\n([\s\S]*?)```\n<!-- profile-diff:end -->/.exec(docs);
  t.truthy(block, 'the docs have no profile-diff block');
  const listed = block![1].trimEnd().split('\n');
  const actual = structuralDiff(real, rehearsal).map(formatDifference);
  t.deepEqual(listed, actual);
  // what the issue names as the distance between rehearsal and lab is in the list
  for (const field of ['vdpa.driver', 'vdpa.devices', 'matrix.vmSizes', 'qemu.build', 'vm.memory.backend'])
    t.true(
      actual.some((l) => l.includes(field)),
      field,
    );
});

test('addresses, keys and names are not differences; a measured setting is', (t) => {
  const base = profileSchema.parse({
    name: 'a',
    hosts: [
      {
        name: 'x',
        transport: { kind: 'ssh', host: 'x.example' },
        migrationAddress: '10.0.0.1',
        vdpa: { driver: 'vdpa_sim_net', managementDevice: 'vdpasim_net', devices: [{ name: 'vdpa0', mac: '52:54:00:00:00:01' }] },
      },
      {
        name: 'y',
        transport: { kind: 'ssh', host: 'y.example' },
        migrationAddress: '10.0.0.2',
        vdpa: { driver: 'vdpa_sim_net', managementDevice: 'vdpasim_net', devices: [{ name: 'vdpa0', mac: '52:54:00:00:00:01' }] },
      },
    ],
    pair: ['x', 'y'],
    variants: [{ name: 'v', qemu: { binary: '/usr/bin/qemu-system-x86_64' } }],
    matrix: { vmSizes: ['1G'], variants: ['v'] },
  });
  const renamed = profileSchema.parse({
    ...structuredClone(base),
    name: 'b',
    hosts: base.hosts.map((h, i) => ({
      ...h,
      name: `h${i}`,
      transport: { ...h.transport, host: `h${i}.example`, port: 2222 },
      migrationAddress: `192.168.0.${i + 1}`,
    })),
    pair: ['h0', 'h1'],
  });
  t.deepEqual(structuralDiff(base, renamed), []);
  const bigger = profileSchema.parse({ ...structuredClone(base), matrix: { ...base.matrix, vmSizes: ['2G'] } });
  t.deepEqual(
    structuralDiff(base, bigger).map((d) => d.path),
    ['matrix.vmSizes'],
  );
});
