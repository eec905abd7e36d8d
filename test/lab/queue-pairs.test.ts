/**
 * Queue-pair sweeps: the plan of a two-count sweep on the seed's lab (devices re-created before
 * the cells that need the other count, undone at teardown, negotiated pairs read after each
 * migration); a single-pair device (vdpa_sim_net) refused by preflight; the parsers on iproute2's
 * real `vdpa -j dev config show` / `dev show` output (as printed in the iproute2 and kernel
 * commits that introduced them).
 */
import test from 'ava';
import { requires } from '../helpers/requires.ts';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vdpaBench } from '../helpers/cli.ts';
import { negotiatedQueuePairs } from '../../harness/lab/queue-pairs.ts';
import { queuePairProblems, type VdpaHost } from '../../harness/lab/vdpa.ts';
import { planRun } from '../../harness/plan/plan.ts';
import { parseProfile } from '../../harness/profile/load.ts';
import { parseDeviceQueuePairs, parseVdpaConfig } from '../../harness/provision/steps.ts';
import type { RunManifest } from '../../harness/results/types.ts';
import { readJson } from '../helpers/json.ts';

async function profileWith(file: string, queuePairs: string) {
  const text = (await readFile(file, 'utf8')).replace(/queuePairs: \[[^\]]*\]/, `queuePairs: ${queuePairs}`);
  return { profile: parseProfile(text, file), file, text, sha256: 'x'.repeat(64) };
}

test('cx6dx-lab with queuePairs [4, 8]: devices created with 4, re-created with 8 before the first 8qp boot, QEMU gets mq vectors per cell, teardown restores', async (t) => {
  const plan = await planRun(await profileWith('profiles/cx6dx-lab.yaml', '[4, 8]'));
  t.regex(plan, /# queue-pair sweep 4, 8: devices are created with max_vqp 4/);
  t.regex(plan, /apply: ssh .* lab-a\.example\.com 'sudo -n -- vdpa dev add name vdpa0 mgmtdev pci\/0000:3b:00\.2 mac 52:54:00:6d:78:01 max_vqp 4'/);
  const boots = [...plan.matchAll(/^### VM boot (\d+): (\S+) (\S+) (\d+)qp/gm)].map((m) => ({ index: Number(m[1]), qp: Number(m[4]), at: m.index! }));
  t.is(boots[0].qp, 4, "the devices are created with the first cell's count");
  t.deepEqual(
    [...new Set(boots.map((b) => b.qp))].sort((a, b) => a - b),
    [4, 8],
  );
  // the schedule interleaves cells, so the count changes several times: re-created exactly there
  const changes = boots.flatMap((b, i) => (i > 0 && b.qp !== boots[i - 1].qp ? [[b.index, b.qp, boots[i - 1].qp]] : []));
  t.true(changes.length >= 3, `an interleaved sweep changes the count more than once (${changes.length})`);
  const recreations = [...plan.matchAll(/^### before VM boot (\d+): vDPA devices re-created with max_vqp (\d+) \(was (\d+)/gm)].map((m) => [
    Number(m[1]),
    Number(m[2]),
    Number(m[3]),
  ]);
  t.deepEqual(recreations, changes, 're-created exactly where the count changes');
  for (const host of ['lab-a', 'lab-b'])
    t.regex(plan, new RegExp(`\\[${host}\\] apply: .*'sudo -n -- vdpa dev del vdpa0'\\n\\[${host}\\] apply: .*max_vqp 8'`));
  // each boot's QEMU has the vectors of its count: 2N+2
  for (const [i, b] of boots.entries()) {
    const section = plan.slice(b.at, boots[i + 1]?.at ?? plan.indexOf('== teardown =='));
    t.true(section.includes(`mq=on,vectors=${2 * b.qp + 2}`), `boot ${b.index}`);
    t.regex(section, /negotiated queue pairs for the record: ssh .*'sudo -n -- vdpa -j dev config show vdpa0'/);
  }
  t.regex(
    plan,
    /undo vDPA device vdpa0 re-created per cell: ssh .*'sudo -n -- vdpa dev add name vdpa0 mgmtdev pci\/0000:3b:00\.2 mac 52:54:00:6d:78:01 max_vqp PREVIOUS'/,
  );
  t.notRegex(plan, /PREFLIGHT REFUSES/);
});

test('a sweep on the vDPA simulator is refused before anything runs, with the reason', async (t) => {
  const loaded = await profileWith('profiles/vdpasim.yaml', '[1, 2]');
  const hosts = loaded.profile.hosts.filter((h): h is VdpaHost => !!h.vdpa);
  const problems = queuePairProblems(hosts, [1, 2]);
  t.is(problems.length, 1);
  t.regex(
    problems[0],
    /matrix\.queuePairs asks for 1, 2 queue pairs, but the vDPA simulator \(vdpa_sim_net\) has one queue pair and rejects max_vqp: a queue-pair sweep needs a NIC \(mlx5_vdpa\)/,
  );
  t.deepEqual(queuePairProblems(hosts, [1]), [], 'one pair is what it has');
  const plan = await planRun(loaded);
  t.regex(plan, /# PREFLIGHT REFUSES THIS RUN before touching any host: .*vdpa_sim_net/);
  const mlx = (await profileWith('profiles/cx6dx-lab.yaml', '[1, 8]')).profile.hosts as VdpaHost[];
  t.deepEqual(queuePairProblems(mlx, [1, 8]), []);
});

test("negotiated queue pairs from iproute2's JSON: max_vq_pairs once MQ is negotiated, 1 without MQ, unknown before a driver negotiated", (t) => {
  // vdpa -j dev config show (iproute2 "vdpa: Add support for reading vdpa device net config")
  const withMq =
    '{"config":{"vdpa-a":{"mac":"00:00:00:00:88:88","link":"up","link_announce":false,"max_vq_pairs":2,"mtu":9000,"negotiated_features":["CSUM","GUEST_CSUM","MTU","MAC","HOST_TSO4","HOST_TSO6","STATUS","CTRL_VQ","MQ","CTRL_MAC_ADDR","VERSION_1","ACCESS_PLATFORM"]}}}';
  t.deepEqual(negotiatedQueuePairs(parseVdpaConfig(withMq, 'vdpa-a')), { queuePairs: 2, mq: true });
  const noMq =
    '{"config":{"vdpa0":{"mac":"52:54:00:6d:78:01","link":"up","link_announce":false,"mtu":1500,"negotiated_features":["CSUM","MAC","STATUS","VERSION_1","ACCESS_PLATFORM"]}}}';
  t.deepEqual(negotiatedQueuePairs(parseVdpaConfig(noMq, 'vdpa0')), { queuePairs: 1, mq: false });
  const idle = '{"config":{"vdpa0":{"mac":"52:54:00:6d:78:01","link":"up","link_announce":false,"mtu":1500}}}';
  t.deepEqual(negotiatedQueuePairs(parseVdpaConfig(idle, 'vdpa0')), { queuePairs: null, mq: null });
  t.deepEqual(negotiatedQueuePairs(parseVdpaConfig(withMq, 'other')), { queuePairs: null, mq: null }, 'another device name is not this one');
  // vdpa -j dev show: max_vqs 9 = 4 pairs + control queue; initial_config where the kernel reports it
  t.is(parseDeviceQueuePairs('{"dev":{"vdpa0":{"type":"network","mgmtdev":"pci/0000:41:04.2","vendor_id":5555,"max_vqs":9,"max_vq_size":256}}}', 'vdpa0'), 4);
  t.is(
    parseDeviceQueuePairs(
      '{"dev":{"vdpa0":{"type":"network","mgmtdev":"pci/0000:41:04.2","vendor_id":5555,"max_vqs":17,"max_vq_size":256,"initial_config":{"mac":"e4:11:c6:d3:45:f0","max_vq_pairs":8}}}}',
      'vdpa0',
    ),
    8,
  );
  t.is(parseDeviceQueuePairs('{"dev":{"vdpa0":{"type":"network","max_vqs":2}}}', 'vdpa0'), undefined, 'an even count (no control queue) is not guessed');
});

requires('root')('run: the sweep on the simulator stops at preflight, nothing set up, lock and host directory gone', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'vb-qp-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const profile = join(root, 'sweep.yaml');
  await writeFile(profile, (await readFile('profiles/vdpasim.yaml', 'utf8')).replace(/queuePairs: \[[^\]]*\]/, 'queuePairs: [1, 2]'));
  const result = await vdpaBench(['run', profile, '--workdir', join(root, 'work'), '--out', join(root, 'results')]);
  t.is(result.exitCode, 1);
  t.regex(
    result.stderr,
    /preflight found 1 problem:\n {2}box: matrix\.queuePairs asks for 1, 2 queue pairs, but the vDPA simulator \(vdpa_sim_net\) has one queue pair/,
  );
  t.deepEqual(await readdir(join(root, 'work')), [], 'no lock, no run directory left');
  const [dir] = await readdir(join(root, 'results'));
  t.is((await readJson<RunManifest>(join(root, 'results', dir, 'manifest.json'))).state, 'failed');
});
