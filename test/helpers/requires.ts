/**
 * The one place a test says what it needs beyond Node: root, QEMU, sshd, sudo, firewalld or headless Chromium.
 *
 *   const test = requires('root', 'qemu');   // instead of `import test from 'ava'`
 *   test.serial('...', async (t) => { ... });
 *
 * What is missing decides the outcome, said in the test's title:
 * - `npm run test:unit` (VDPA_BENCH_UNIT=1): every such test is skipped; the script also puts
 *   test/helpers/unit-path first on PATH, whose stubs fail any test that runs QEMU, sshd, ip,
 *   gcc, apt-get or Chromium without having declared it here.
 * - in CI (CI=true): the test fails with the reason, since CI must provide everything.
 * - elsewhere (a developer's machine): skipped with the reason.
 */
import avaTest, { type TestFn } from 'ava';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { SSHD } from '../../testbed/sshd.ts';

export type Need = 'root' | 'qemu' | 'sshd' | 'chromium' | 'sudo' | 'firewalld';

/** Where the tests find Chromium (test:unit points it at a failing stub; SSHD likewise in testbed/sshd.ts). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const UNIT_MODE = process.env.VDPA_BENCH_UNIT === '1';
const IN_CI = process.env.CI === 'true';

function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const WHY_MISSING: Record<Need, () => string | null> = {
  root: () => (process.getuid?.() === 0 ? null : 'not running as root'),
  qemu: () => (onPath('qemu-system-x86_64') ? null : 'qemu-system-x86_64 not on PATH (apt-get install qemu-system-x86)'),
  sshd: () => (existsSync(SSHD) ? null : `${SSHD} not found (apt-get install openssh-server)`),
  chromium: () => (existsSync(CHROMIUM) ? null : `${CHROMIUM} not found (apt-get install chromium)`),
  sudo: () => (existsSync('/usr/bin/sudo') && onPath('useradd') ? null : 'sudo or useradd not found (apt-get install sudo passwd)'),
  firewalld: () =>
    ['/usr/sbin/firewalld', '/usr/sbin/nft', '/usr/bin/dbus-daemon'].every((f) => existsSync(f))
      ? null
      : 'firewalld, nft or dbus-daemon not found (apt-get install firewalld nftables dbus)',
};

/** Why these needs cannot be met here, or null when the test can run. */
export function whyCannotRun(needs: readonly Need[]): string | null {
  if (UNIT_MODE) return `needs ${needs.join(', ')}; npm run test:unit runs without root, QEMU, sshd or a browser`;
  const missing = needs.map((need) => WHY_MISSING[need]()).filter((why): why is string => why !== null);
  return missing.length ? `needs ${needs.join(', ')}: ${missing.join('; ')}` : null;
}

type Register = (title: string, ...rest: unknown[]) => void;

/** An ava `test` for tests with these needs: the real one when they are met, else one that skips or fails each test with the reason. */
export function requires(...needs: Need[]): TestFn {
  const reason = whyCannotRun(needs);
  if (reason === null) return avaTest;
  const mustFail = IN_CI && !UNIT_MODE;
  const gate =
    (register: Register): Register =>
    (title) =>
      mustFail
        ? register(title, (t: { fail: (message: string) => void }) => t.fail(`${reason} (CI must provide it: .ci/run installs it)`))
        : avaTest.skip(`${title} [skipped: ${reason}]`, () => {});
  const noHook = Object.assign(() => {}, { always: () => {} });
  const gated = Object.assign(gate(avaTest as Register), {
    serial: gate(avaTest.serial as Register),
    failing: gate(avaTest.failing as Register),
    skip: avaTest.skip,
    todo: avaTest.todo,
    before: noHook,
    after: noHook,
    beforeEach: noHook,
    afterEach: noHook,
  });
  return gated as unknown as TestFn;
}
