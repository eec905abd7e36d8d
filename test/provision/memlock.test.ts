/**
 * The memlock wall: QEMU of a pinning (vDPA) cell is launched under prlimit with guest RAM + 1 GiB
 * locked, and preflight runs that same prlimit first. As root the hard limit is raised; a user
 * whose hard limit is lower (a plain ssh login, no sudo) is refused before any guest boots, with
 * the number it needed.
 */
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { memlockLimitBytes, PIN_OVERHEAD_BYTES, withMemlock } from '../../harness/profile/memlock.ts';
import { memlockCheck, runChecks } from '../../harness/provision/preflight.ts';
import { requires } from '../helpers/requires.ts';
import avaTest from 'ava';

const test = requires('root');

const GUEST_39G = 39 * 2 ** 30;

avaTest('a vDPA NIC pins: guest RAM + 1 GiB, soft = hard; a tap or firmware-only guest gets no prlimit', (t) => {
  t.is(memlockLimitBytes({ nic: { kind: 'vdpa', shadowVirtqueue: false } }, '39G', null), GUEST_39G + PIN_OVERHEAD_BYTES);
  t.is(memlockLimitBytes({ nic: { kind: 'none' } }, '128G', 8), 128 * 2 ** 30 + 2 ** 30);
  t.is(memlockLimitBytes({ nic: { kind: 'none' } }, '1G', null), null);
  t.deepEqual(withMemlock(['qemu-system-x86_64', '-m', '1G'], 42), ['prlimit', '--memlock=42:42', '--', 'qemu-system-x86_64', '-m', '1G']);
  t.deepEqual(withMemlock(['qemu'], null), ['qemu']);
});

/** Whether this process may raise a hard limit (CAP_SYS_RESOURCE): a container's root often may not. */
async function maySetHardLimits(): Promise<boolean> {
  const capEff = /^CapEff:\s+([0-9a-f]+)$/m.exec(await readFile('/proc/self/status', 'utf8'))![1];
  return (BigInt(`0x${capEff}`) & (1n << 24n)) !== 0n;
}

test('as root the limit is raised past the hard limit, or preflight says why this root may not', async (t) => {
  const root = new LocalTransport('here');
  const needed = GUEST_39G + PIN_OVERHEAD_BYTES;
  const problems = await runChecks(root, [memlockCheck(needed)]);
  if (await maySetHardLimits()) {
    t.deepEqual(problems, []);
    // what the launch does, read back from the kernel as the run reads QEMU's
    const [file, ...args] = withMemlock(['cat', '/proc/self/limits'], needed);
    t.regex((await execa(file, args)).stdout, new RegExp(`^Max locked memory\\s+${needed}\\s+${needed}\\s+bytes`, 'm'));
  } else {
    t.log('this root has no CAP_SYS_RESOURCE (a container): the refusal is the expected answer');
    t.is(problems.length, 1);
    t.regex(problems[0], /^here: memlock limit cannot be raised to 41943040 KiB: .* as root but without CAP_SYS_RESOURCE \(a container\?\)/);
  }
});

test('a limit within the hard limit is raised by any user, and the process runs with it', async (t) => {
  const hardKiB = (await execa('bash', ['-c', 'ulimit -H -l'])).stdout.trim();
  const needed = hardKiB === 'unlimited' ? 2 ** 30 : Number(hardKiB) * 1024;
  const plain = new LocalTransport('plain', ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--']);
  t.deepEqual(await runChecks(plain, [memlockCheck(needed)]), []);
  const limits = (await plain.run(withMemlock(['cat', '/proc/self/limits'], needed))).stdout;
  t.regex(limits, new RegExp(`^Max locked memory\\s+${needed}\\s+${needed}\\s+bytes`, 'm'));
});

test('a user whose hard limit is lower cannot raise it: preflight names the number, before anything boots', async (t) => {
  // the hard limit a default Linux login gets (8 MiB), then no longer root: as a plain ssh user
  const plain = new LocalTransport('lab-b', [
    'prlimit',
    `--memlock=${8 * 2 ** 20}:${8 * 2 ** 20}`,
    '--',
    'setpriv',
    '--reuid=65534',
    '--regid=65534',
    '--clear-groups',
    '--',
  ]);
  t.is((await plain.run(['id', '-u'])).stdout.trim(), '65534');
  const needed = GUEST_39G + PIN_OVERHEAD_BYTES;
  const [problem, ...more] = await runChecks(plain, [memlockCheck(needed)]);
  t.deepEqual(more, []);
  t.regex(
    problem,
    /^lab-b: memlock limit cannot be raised to 41943040 KiB: the hard limit is 8192 KiB and prlimit said "prlimit: failed to set the MEMLOCK resource limit: Operation not permitted/,
  );
  t.regex(problem, /prlimit --memlock=42949672960:42949672960 \(41943040 KiB, 40 GiB: the largest guest \+ 1 GiB\)/);
  t.regex(problem, /the commands run as uid 65534: run them as root \(transport sudo: true\)/);
});
