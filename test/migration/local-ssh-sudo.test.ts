/**
 * A whole run as on a lab that refuses root logins: the local lab over ssh to a real sshd with
 * `PermitRootLogin no`, logged in as a real non-root user, everything as root through sudo (the
 * lock holders, clock responders, QEMU and its QMP sockets, traces, file reads). And the same run
 * with a user whose sudo wants a password: stopped at the first command, saying so, nothing started.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { SudoRefusedError } from '../../harness/hosts/sudo.ts';
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
  }
  const file = join(scratch, `${name}.yaml`);
  await writeFile(file, doc.toString());
  return file;
}

const quiet = (notes: string[]) => ({ blockStarted() {}, migrationDone() {}, note: (m: string) => notes.push(m) });

// A known defect (issue #20), kept visible: under sudo both migrations fail with "QMP connection
// closed while waiting for greeting (QEMU exited?)" although the same run as root passes
// (local-ssh.test.ts). ava's failing() passes while the test fails and fails once it passes: then
// drop the modifier.
test.failing('a run as a non-root login with sudo: QEMU, locks, responders and files as root; records carry the port and the settings QEMU used', async (t) => {
  const user = await createSudoUser(sshd, 'nopasswd');
  users.push(user);
  const notes: string[] = [];
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
  }
  const started = (await readFile(join(outcome.dir, 'argv.ndjson'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { role: string; via: string; shown: string });
  const qemu = started.filter((s) => s.role === 'qemu');
  t.true(qemu.length >= 3);
  for (const s of started) t.true(s.shown.includes(`-l ${user.name} `) && s.shown.includes("'sudo -n -- "), s.shown);
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
