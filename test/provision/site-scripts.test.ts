/**
 * zx site scripts end to end through real transports: the shipped CPU-governor script over the
 * test's own sshd and in a network namespace. This machine has no cpufreq, so the real
 * /sys/devices/system/cpu shows the "not available" path; apply and undo run against a CPU
 * directory given as the script's argument (a temp tree laid out like sysfs, under a hostile
 * name), with a hostile governor string.
 */
import test from 'ava';
import { requires } from '../helpers/requires.ts';
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile, access } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetnsTransport } from '../../harness/hosts/local.ts';
import { SshTransport } from '../../harness/hosts/ssh.ts';
import type { HostTransport } from '../../harness/hosts/transport.ts';
import { ProvisionLedger } from '../../harness/provision/apply.ts';
import { applySiteScripts, siteScriptsFor, undoSiteScripts, type PlannedSiteScript } from '../../harness/provision/site-scripts.ts';
import { parseProfile } from '../../harness/profile/load.ts';
import { startSshd } from '../../testbed/sshd.ts';

const SCRIPT = new URL('../../profiles/site/cpu-governor.mjs', import.meta.url).pathname;
const HOSTILE_GOVERNOR = `perf'x "q" $(touch pwned) ;y`;

async function cpuTree(t: import('ava').ExecutionContext): Promise<{ root: string; files: string[] }> {
  const base = await mkdtemp(join(tmpdir(), 'vb-cpufreq-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const root = join(base, `cpu dir 'a' "b" $(touch pwned) *`);
  const files: string[] = [];
  for (const [cpu, governor] of [
    ['cpu0', 'powersave'],
    ['cpu1', 'schedutil'],
  ]) {
    await mkdir(join(root, cpu, 'cpufreq'), { recursive: true });
    await writeFile(join(root, cpu, 'cpufreq', 'scaling_governor'), `${governor}\n`);
    files.push(join(root, cpu, 'cpufreq', 'scaling_governor'));
  }
  return { root, files };
}

async function roundTrip(t: import('ava').ExecutionContext, host: HostTransport) {
  const notes: string[] = [];
  const transports = new Map([[host.hostName, host]]);
  // the real sysfs of this machine: no cpufreq, said so and recorded, nothing applied
  const real: PlannedSiteScript = { host: host.hostName, path: SCRIPT, args: [], from: 'setup' };
  const realLedger = new ProvisionLedger();
  const [absent] = await applySiteScripts(transports, [real], realLedger, (l) => void notes.push(l));
  t.is(absent.action, 'unavailable');
  t.regex(absent.before, /no cpufreq on this host \(no \/sys\/devices\/system\/cpu\/cpu\*\/cpufreq\/scaling_governor\)/);
  t.regex(notes[0], /NOT APPLIED, not available on this host/);
  t.deepEqual(realLedger.entries, []);

  const { root, files } = await cpuTree(t);
  const script: PlannedSiteScript = { host: host.hostName, path: SCRIPT, args: [HOSTILE_GOVERNOR, root], from: 'setup' };
  const ledger = new ProvisionLedger();
  const [outcome] = await applySiteScripts(transports, [script], ledger, (l) => void notes.push(l));
  t.is(outcome.action, 'applied');
  t.is(outcome.before, '2 CPUs: 1 powersave, 1 schedutil');
  for (const f of files) t.is(await readFile(f, 'utf8'), `${HOSTILE_GOVERNOR}\n`, 'the hostile governor arrived as data');
  t.is(ledger.entries.length, 1);
  t.deepEqual(JSON.parse(ledger.entries[0].previousState), { [files[0]]: 'powersave', [files[1]]: 'schedutil' });
  // a second run finds it in place and applies nothing
  const [again] = await applySiteScripts(transports, [script], new ProvisionLedger(), () => undefined);
  t.is(again.action, 'already-in-place');
  t.deepEqual(await undoSiteScripts(transports, [script], ledger), []);
  t.is(await readFile(files[0], 'utf8'), 'powersave\n');
  t.is(await readFile(files[1], 'utf8'), 'schedutil\n');
  await t.throwsAsync(access(join(root, '..', 'pwned')));
  await t.throwsAsync(access('pwned'));
}

requires('root', 'sshd')(
  "the CPU-governor script over ssh (the real sshd): unavailable on real sysfs; applied, found in place, undone to each CPU's own governor",
  async (t) => {
    const sshd = await startSshd();
    const host = new SshTransport('sshhost', sshd.config);
    t.teardown(async () => {
      await host.close();
      await sshd.stop();
    });
    await roundTrip(t, host);
  },
);

requires('root')('the CPU-governor script in a network namespace host', async (t) => {
  const namespace = `vbzx-${randomBytes(3).toString('hex')}`;
  await execa('ip', ['netns', 'add', namespace]);
  t.teardown(() => execa('ip', ['netns', 'delete', namespace], { reject: false }).then(() => undefined));
  await roundTrip(t, new NetnsTransport('nshost', namespace));
});

test("a profile lists lab-wide scripts first, then the host's own, relative to the profile file; a script missing an export is refused by name", async (t) => {
  const profile = parseProfile(`name: p
setup: [{ script: site/cpu-governor.mjs }]
hosts:
  - { name: a, setup: [{ script: /abs/own.mjs, args: ["x y"] }] }
  - { name: b }
variants: [{ name: v }]
matrix: { vmSizes: [256M] }
`);
  const planned = siteScriptsFor(profile, '/labs/p.yaml', ['a', 'b']);
  t.deepEqual(
    planned.map((s) => [s.host, s.path, s.args]),
    [
      ['a', '/labs/site/cpu-governor.mjs', []],
      ['a', '/abs/own.mjs', ['x y']],
      ['b', '/labs/site/cpu-governor.mjs', []],
    ],
  );
  const dir = await mkdtemp(join(tmpdir(), 'vb-site-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'half.mjs'), 'export async function check() { return { satisfied: true, state: "" }; }\n');
  const error = await t.throwsAsync(
    applySiteScripts(new Map(), [{ host: 'a', path: join(dir, 'half.mjs'), args: [], from: 'setup' }], new ProvisionLedger(), () => undefined),
  );
  t.regex(error!.message, /half\.mjs: it must export apply, undo/);
  t.throws(() => parseProfile('name: p\nsetup: [{ script: x.sh }]\nhosts: [{ name: a }]\nvariants: [{ name: v }]\nmatrix: { vmSizes: [256M] }\n'), {
    message: /setup\.0\.script: a zx script: a \.mjs file/,
  });
});
