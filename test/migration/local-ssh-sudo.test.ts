/**
 * A whole run as on a lab that refuses root logins: the local lab over ssh to a real sshd with
 * `PermitRootLogin no`, logged in as a real non-root user, everything as root through sudo (the
 * lock holders, clock responders, QEMU and its QMP sockets, traces, file reads, taskset and the
 * NUMA read-backs). And the same run with a user whose sudo wants a password: stopped at the first
 * command, saying so, nothing started.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseDocument } from 'yaml';
import { SudoRefusedError } from '../../harness/hosts/sudo.ts';
import { SUDO_SOCKET_DIR_PREFIX } from '../../harness/migration/run-directory.ts';
import { loadProfile } from '../../harness/profile/load.ts';
import { runBenchmark } from '../../harness/run/run.ts';
import { startSshd, type TestSshd } from '../../testbed/sshd.ts';
import { createSudoUser, type SudoUser } from '../../testbed/sudo-user.ts';
import { requires } from '../helpers/requires.ts';

const test = requires('root', 'sshd', 'sudo', 'qemu');

const PROFILE = new URL('../../profiles/local-ssh.yaml', import.meta.url).pathname;

let sshd: TestSshd;
let scratch: string;
const users: SudoUser[] = [];

test.before(async () => {
  sshd = await startSshd({ refuseRoot: true });
  // root-only, as a lab's /var/tmp/vdpa-bench after root runs: only sudo gets in
  scratch = await mkdtemp('/var/tmp/vb-lssh-sudo-');
});

test.after.always(async () => {
  for (const u of users) await u.remove();
  await sshd?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function profileFor(user: SudoUser, name: string): Promise<string> {
  const doc = parseDocument(await readFile(PROFILE, 'utf8'));
  for (const index of [0, 1]) {
    doc.setIn(['hosts', index, 'transport', 'user'], user.name);
    doc.setIn(['hosts', index, 'transport', 'sudo'], true);
    doc.setIn(['hosts', index, 'transport', 'port'], sshd.port);
    doc.setIn(['hosts', index, 'transport', 'identityFile'], sshd.identityFile);
    doc.setIn(['hosts', index, 'transport', 'knownHostsFile'], sshd.knownHostsFile);
    doc.setIn(['hosts', index, 'transport', 'strictHostKeyChecking'], 'yes');
    doc.setIn(['hosts', index, 'workdir'], join(scratch, name));
    // placed as a lab's NIC node would be (this machine has node 0 and CPUs 0-1): taskset and /proc reads through sudo
    doc.setIn(['hosts', index, 'numa'], doc.createNode({ memory: { hostNodes: [0], policy: 'bind' }, vcpus: '0', emulator: '1' }));
  }
  const file = join(scratch, `${name}.yaml`);
  await writeFile(file, doc.toString());
  return file;
}

/** The socket directories sudo runs make in /tmp for this login user (migration/run-directory.ts). */
async function socketDirs(uid: number): Promise<string[]> {
  const names = (await readdir('/tmp')).filter((n) => n.startsWith(basename(SUDO_SOCKET_DIR_PREFIX)));
  const owned = await Promise.all(names.map(async (n) => ((await stat(join('/tmp', n)).catch(() => null))?.uid === uid ? n : null)));
  return owned.filter((n): n is string => n !== null);
}

const quiet = (notes: string[]) => ({ blockStarted() {}, migrationDone() {}, note: (m: string) => notes.push(m) });

// The workdir is root-only (0700), so the login user, as whom sshd connects the forwarded QMP
// sockets, cannot pass it: under sudo the sockets live in a directory of the login user's own
// (migration/run-directory.ts). Before that, both migrations failed with "QMP connection closed
// while waiting for greeting (QEMU exited?)" while the same run as root passed.
test('a run as a non-root login with sudo: QEMU, locks, responders and files as root; records carry the port, the settings QEMU used and the NUMA placement', async (t) => {
  const user = await createSudoUser(sshd, 'nopasswd');
  users.push(user);
  const notes: string[] = [];
  t.deepEqual(await socketDirs(user.uid), []);
  const outcome = await runBenchmark(await loadProfile(await profileFor(user, 'ok')), {
    iterations: 2,
    warmup: 0,
    vmSizes: ['256M'],
    variants: ['precopy'],
    outDir: join(scratch, 'results'),
    progress: quiet(notes),
  });
  t.is(outcome.manifest.state, 'completed', `${outcome.manifest.stateReason} ${notes.join('\n')}`);
  t.deepEqual(
    outcome.manifest.hosts.map((h) => h.runsAs),
    [
      { uid: 0, user: 'root', sudoFrom: user.name },
      { uid: 0, user: 'root', sudoFrom: user.name },
    ],
  );
  t.deepEqual(
    outcome.records.map((r) => r.status),
    ['ok', 'ok'],
    outcome.records.map((r) => r.reason).join(' | '),
  );
  for (const r of outcome.records) {
    t.true(typeof r.qmp?.port === 'number' && r.qmp.port > 0, 'the port QEMU listened on');
    t.is(r.migrationSettings?.source.parameters['downtime-limit'], 300, "QEMU's default, read back");
    for (const side of ['source', 'destination'] as const) {
      const placed = r.extra?.numa?.[side];
      t.deepEqual(placed?.memory?.qemu, { hostNodes: [0], policy: 'bind' }, `${side}: query-memdev`);
      t.true(placed?.memory?.kernel.includes('bind:0'), `${side}: numa_maps ${placed?.memory?.kernel.join(', ')}`);
      t.is(placed?.emulator?.allowed, '1', `${side}: the emulator thread`);
      t.deepEqual(
        placed?.vcpus?.map((v) => v.allowed),
        ['0'],
        `${side}: the vCPU thread`,
      );
    }
  }
  const started = (await readFile(join(outcome.dir, 'argv.ndjson'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { role: string; via: string; shown: string });
  const qemu = started.filter((s) => s.role === 'qemu');
  t.true(qemu.length >= 3);
  for (const s of started) t.true(s.shown.includes(`-l ${user.name} `) && s.shown.includes("'sudo -n -- "), s.shown);
  t.true(
    started.some((s) => s.shown.includes("'sudo -n -- taskset -p -c 0 ")),
    'vCPU pinned through sudo',
  );
  t.deepEqual(await socketDirs(user.uid), [], "the login user's socket directories went with the run directories");
});

test.serial('a sudo that asks for a password stops the run at its first command, before any QEMU, saying what sudo must allow', async (t) => {
  const user = await createSudoUser(sshd, 'password');
  users.push(user);
  const error = await t.throwsAsync(
    runBenchmark(await loadProfile(await profileFor(user, 'refused')), {
      iterations: 1,
      warmup: 0,
      vmSizes: ['256M'],
      variants: ['precopy'],
      outDir: join(scratch, 'results-refused'),
      progress: quiet([]),
    }),
  );
  t.true(error instanceof SudoRefusedError, String(error));
  t.regex(
    error!.message,
    /^hostA: ssh vbsudo\w+@127\.0\.0\.1 port \d+: sudo -n asks for a password \("sudo: a password is required"\); transport sudo: true needs .*NOPASSWD: ALL/,
  );
});
