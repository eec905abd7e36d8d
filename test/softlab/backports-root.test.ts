import test from 'ava';
import { buildStages } from '../../harness/softlab/build.ts';
import { LAB, softlabPaths } from '../../harness/softlab/paths.ts';
import { loadProfile } from '../../harness/profile/load.ts';
import { suiteRoot } from '../../harness/provision/qemu-root.ts';

test('the image carries a trixie root with trixie-backports in its sources, built beside the sid root', (t) => {
  const paths = softlabPaths('/tmp/softlab-cache');
  const stages = buildStages(paths, 'http://deb.debian.org/debian', '6G');
  const byName = new Map(stages.map((s) => [s.name, s]));
  t.deepEqual(byName.get('backports-rootfs')?.after, []);
  t.regex(byName.get('backports-rootfs')!.description, /debootstrap --variant=minbase trixie/);
  t.deepEqual(byName.get('backports-packages')?.after, ['backports-rootfs']);
  t.regex(byName.get('backports-packages')!.description, /-t trixie-backports/);
  t.true(byName.get('image')!.after.includes('backports-packages'));
  t.regex(byName.get('image')!.description, /trixie-backports root at \/srv\/trixie-backports/);
  t.is(paths.backportsRoot, '/tmp/softlab-cache/trixie-backports-rootfs');
});

test("the backports profile's after variant is that root: qemu.debian trixie-backports under the hosts' qemuRoots /srv", async (t) => {
  const { profile } = await loadProfile('profiles/softlab-two-hosts-backports.yaml');
  const after = profile.variants.find((v) => v.name === 'after')!;
  t.is(after.qemu.debian, 'trixie-backports');
  for (const h of profile.hosts) t.is(suiteRoot(h.qemuRoots!, after.qemu.debian!), LAB.backportsChroot);
  t.deepEqual(profile.matrix.vmSizes, ['128M', '256M', '512M']);
});
