import test from 'ava';
import { execa } from 'execa';
import { profileSchema } from '../../harness/profile/schema.ts';
import { parseProfile } from '../../harness/profile/load.ts';
import { qemuArgs, qemuInvocation } from '../../harness/qemu/command.ts';
import { bindPlan, invocationLabel, rootedInvocation, ROOT_WRAPPER_SCRIPT, STANDARD_BINDS, WRAPPER_NAME } from '../../harness/qemu/root.ts';
import {
  checkSuite,
  debootstrapArgv,
  parseMirror,
  parseRootOutcome,
  qemuRootCommand,
  qemuRootsDir,
  suiteRoot,
  DEFAULT_DEBIAN_MIRROR,
  REMOTE_QEMU_ROOTS,
} from '../../harness/provision/qemu-root.ts';
import { downtimePhases } from '../../harness/metrics/downtime-phases.ts';
import { parseTrace } from '../../harness/traces/parse.ts';

const HOSTILE_SUITES = ['trixie; rm -rf /', '../../etc', 'Trixie', '-v', '', 'sid\n', 'a b', '$(id)', 'x'.repeat(40)];

test('hostile suite names are refused before they reach a path or a debootstrap argument', (t) => {
  for (const suite of HOSTILE_SUITES) {
    t.throws(() => checkSuite(suite), { message: /is not a Debian suite name/ }, JSON.stringify(suite));
    t.throws(() => suiteRoot('/var/cache/r', suite));
    t.throws(() => debootstrapArgv(suite, '/x', DEFAULT_DEBIAN_MIRROR));
    t.false(
      profileSchema.safeParse({ name: 'p', hosts: [{ name: 'h' }], variants: [{ name: 'v', qemu: { debian: suite } }], matrix: { vmSizes: ['1G'] } }).success,
      JSON.stringify(suite),
    );
  }
  for (const suite of ['trixie', 'sid', 'bookworm', 'stable', 'forky']) t.is(checkSuite(suite), suite);
});

test('qemu.debian excludes binary, build and chroot; a variant with it needs nothing else', (t) => {
  const base = { name: 'p', hosts: [{ name: 'h' }], matrix: { vmSizes: ['1G'] } };
  t.true(profileSchema.safeParse({ ...base, variants: [{ name: 'v', qemu: { debian: 'trixie' } }] }).success);
  for (const extra of [{ binary: 'qemu' }, { chroot: '/srv/sid' }, { build: { git: 'x' } }]) {
    const r = profileSchema.safeParse({ ...base, variants: [{ name: 'v', qemu: { debian: 'trixie', ...extra } }] });
    t.false(r.success);
    t.regex(JSON.stringify(r.error?.issues), /qemu.debian names the QEMU by itself/);
  }
  // the load-time reference check accepts it (it asks for binary, build or debian)
  t.is(
    parseProfile('name: p\nhosts: [{ name: h }]\nvariants: [{ name: v, qemu: { debian: trixie } }]\nmatrix: { vmSizes: [1G] }\n').variants[0].qemu.debian,
    'trixie',
  );
  t.throws(() => parseProfile('name: p\nhosts: [{ name: h }]\nvariants: [{ name: v, qemu: {} }]\nmatrix: { vmSizes: [1G] }\n'), {
    message: /give binary, build or debian/,
  });
});

test('debootstrap, provisioning and removal are argument arrays and "$1" values: a hostile path stays one argument', (t) => {
  t.deepEqual(debootstrapArgv('trixie', '/r/trixie.new', 'http://deb.debian.org/debian', ['qemu-system-x86', 'seabios']), [
    'debootstrap',
    '--variant=minbase',
    '--include=qemu-system-x86,seabios',
    'trixie',
    '/r/trixie.new',
    'http://deb.debian.org/debian',
  ]);
  t.throws(() => debootstrapArgv('trixie', 'relative', DEFAULT_DEBIAN_MIRROR), { message: /absolute path/ });
  for (const mirror of ['http://x/debian; reboot', 'ftp://x', '--keyring=/tmp/k', 'http://a b/debian'])
    t.throws(() => debootstrapArgv('trixie', '/r', mirror), { message: /mirror/ }, mirror);
  const hostile = "/var/cache/it's $(reboot)`id`";
  const command = qemuRootCommand(`${hostile}/trixie`, 'trixie', DEFAULT_DEBIAN_MIRROR, 'ensure');
  t.is(command.kind, 'script');
  if (command.kind !== 'script') return;
  t.deepEqual(command.args, [`${hostile}/trixie`, 'trixie', DEFAULT_DEBIAN_MIRROR, 'qemu-system-x86,seabios,ipxe-qemu', 'ensure']);
  t.false(command.script.includes(hostile), 'no value is spliced into the script text');
  t.regex(command.script, /unmount_under "\$1"; rm -rf --one-file-system/, 'a root is deleted only after everything below it is unmounted');
  t.regex(command.script, /flock 9/);
});

test("where roots live: the host setting, this machine's cache, /var/cache over ssh; paths /proc/self/mounts would escape are refused", (t) => {
  t.is(qemuRootsDir({ transport: { kind: 'local' } }, '/c'), '/c/qemu-roots');
  t.is(qemuRootsDir({ transport: { kind: 'netns' } }, '/c'), '/c/qemu-roots');
  t.is(qemuRootsDir({ transport: { kind: 'ssh' } }, '/c'), REMOTE_QEMU_ROOTS);
  t.is(qemuRootsDir({ transport: { kind: 'ssh' }, qemuRoots: '/srv/' }, '/c'), '/srv');
  for (const bad of ['/a b', '/a\nb', '/a\\b', '/a\tb'])
    t.throws(() => qemuRootsDir({ transport: { kind: 'local' }, qemuRoots: bad }, '/c'), { message: /whitespace or a backslash/ }, JSON.stringify(bad));
  t.throws(() => qemuRootsDir({ transport: { kind: 'local' }, qemuRoots: 'rel' }, '/c'), { message: /absolute/ });
});

test('mirror and outcome parsing: a junk line falls back to deb.debian.org, versions are read exactly', (t) => {
  t.is(parseMirror('http://ftp.de.debian.org/debian\n'), 'http://ftp.de.debian.org/debian');
  t.is(parseMirror(''), DEFAULT_DEBIAN_MIRROR);
  t.is(parseMirror('http://x/debian;reboot'), DEFAULT_DEBIAN_MIRROR);
  t.deepEqual(parseRootOutcome('I: Base system installed successfully.\nbuilt 1:10.0.13+ds-0+deb13u1\n'), {
    action: 'built',
    version: '1:10.0.13+ds-0+deb13u1',
  });
  t.deepEqual(parseRootOutcome('cached 1:11.1.3+ds-1'), { action: 'cached', version: '1:11.1.3+ds-1' });
  t.is(parseRootOutcome('incomplete'), null);
});

test('bind plan: the standard set, parents first, extra directories only where the standard set does not show them, hostile paths refused', (t) => {
  t.deepEqual(bindPlan('/r'), [...STANDARD_BINDS]);
  const plan = bindPlan(
    '/r',
    ['/var/tmp/vdpa-bench/run/sock', '/srv/lab work/traces', '/root/.cache/guest', '/srv/lab work/traces/', '/r/inside'],
    ['/dev/hugepages'],
  );
  t.deepEqual(plan, ['/dev', '/sys', '/root', '/tmp', '/run', '/var/tmp', '/dev/hugepages', '/srv/lab work/traces']);
  for (let i = 1; i < plan.length; i++) t.true(plan[i].split('/').length >= plan[i - 1].split('/').length, 'parents before children');
  t.throws(() => bindPlan('/r', ['relative/dir']), { message: /absolute path/ });
  t.throws(() => bindPlan('/r', ['/a\0b']), { message: /NUL/ });
  t.throws(() => bindPlan('/'), { message: /cannot be \/ itself/ });
  t.throws(() => bindPlan('r'), { message: /absolute path/ });
  // a path with `..` is normalised before it is compared or bound
  t.deepEqual(bindPlan('/r', ['/var/tmp/../../etc/x']), [...STANDARD_BINDS, '/etc/x']);
});

test('the rooted invocation: QEMU argv after a constant wrapper; hostile roots and binds stay single arguments', (t) => {
  const root = "/c/qemu roots/it's $(id)";
  const argv = rootedInvocation(root, '/usr/bin/qemu-system-x86_64', bindPlan(root, ['/srv/a;b']));
  t.deepEqual(argv.slice(0, 8), ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', ROOT_WRAPPER_SCRIPT]);
  t.deepEqual(argv.slice(8), [WRAPPER_NAME, root, ...STANDARD_BINDS, '/srv/a;b', '--', '/usr/bin/qemu-system-x86_64']);
  t.false(ROOT_WRAPPER_SCRIPT.includes('$(id)'));
  t.throws(() => rootedInvocation('/r', '/usr/bin/q', ['--']), { message: /not an absolute path/ });
  t.is(invocationLabel(argv), `/usr/bin/qemu-system-x86_64 in ${root}`);
  t.is(invocationLabel(['qemu-system-x86_64']), 'qemu-system-x86_64');
});

test("the wrapper script binds each directory at its own path and execs chroot with QEMU's argv untouched (dry run with echo for mount and chroot)", async (t) => {
  // the same script text with the privileged commands shadowed by shell functions that print
  const dry = `mkdir() { :; }\nmount() { printf 'mount'; printf ' <%s>' "$@"; echo; }\nchroot() { printf 'chroot'; printf ' <%s>' "$@"; echo; }\n${ROOT_WRAPPER_SCRIPT.replace('exec chroot', 'chroot')}`;
  const root = '/r oot';
  const r = await execa('sh', ['-c', dry, WRAPPER_NAME, root, '/dev', "/srv/it's", '--', '/usr/bin/qemu', '-name', 'a b', '--', '$(id)']);
  t.deepEqual(r.stdout.split('\n'), [
    'mount <--bind> <--> </dev> </r oot/dev>',
    'mount <--make-private> <--> </r oot/dev>',
    "mount <--bind> <--> </srv/it's> </r oot/srv/it's>",
    "mount <--make-private> <--> </r oot/srv/it's>",
    'mount <-t> <proc> <proc> </r oot/proc>',
    'chroot <--> </r oot> </usr/bin/qemu> <-name> <a b> <--> <$(id)>',
  ]);
});

test("a launch from a Debian root binds the run's directories, the guest kernel's and a file backend's", (t) => {
  const profile = profileSchema.parse({
    name: 'p',
    hosts: [{ name: 'h' }],
    variants: [{ name: 'v', qemu: { debian: 'trixie' } }],
    vm: { guest: { kind: 'kernel', kernel: '/home/lab/k/vmlinuz', initrd: '/home/lab/k/initrd' }, memory: { backend: 'file', path: '/mnt/mem' } },
    matrix: { vmSizes: ['1G'] },
  });
  const argv = qemuArgs({
    binary: '/usr/bin/qemu-system-x86_64',
    variant: profile.variants[0],
    vm: profile.vm,
    vmSize: '1G',
    queuePairs: null,
    accel: 'tcg',
    name: 'n',
    qmpSocket: '/w/run/sock/1.sock',
    traceFile: '/w/run/traces/t.log',
    consoleFile: '/w/run/console/c.log',
    traceEvents: [],
    defaultMemoryDir: '/w/run',
    incoming: false,
    root: '/c/trixie',
  });
  const dash = argv.indexOf('--', 9);
  t.deepEqual(argv.slice(9, dash), ['/c/trixie', ...STANDARD_BINDS, '/mnt/mem', '/w/run/sock', '/w/run/traces', '/w/run/console', '/home/lab/k']);
  t.is(argv[dash + 1], '/usr/bin/qemu-system-x86_64');
  t.true(argv.includes('memory-backend-file,id=mem0,size=1024M,mem-path=/mnt/mem'));
  // the host's own QEMU is unchanged
  t.deepEqual(qemuInvocation({ qemu: { binary: 'qemu-system-x86_64' } }, 'qemu-system-x86_64'), ['qemu-system-x86_64']);
});

const line = (t: number, event: string, args: string) => `1@${t.toFixed(6)}:${event} ${args}`;

test('downtime phases from QEMU checkpoints: source stop to device start, destination corrected by the clock offset', (t) => {
  const source = parseTrace(
    [
      line(99.0, 'vmstate_downtime_checkpoint', 'src-downtime-start'), // an earlier migration in the same file: outside the window
      line(100.0, 'vmstate_downtime_checkpoint', 'src-downtime-start'),
      line(100.0009, 'vmstate_downtime_checkpoint', 'src-vm-stopped'),
      line(100.168, 'vmstate_downtime_checkpoint', 'src-iterable-saved'),
      line(100.174, 'vmstate_downtime_checkpoint', 'src-non-iterable-saved'),
    ].join('\n'),
  ).events;
  // destination clock 2 s ahead
  const destination = parseTrace(
    [
      line(102.193, 'vmstate_downtime_checkpoint', 'dst-precopy-loadvm-completed'),
      line(102.1935, 'vmstate_downtime_checkpoint', 'dst-precopy-bh-enter'),
      line(102.1942, 'vmstate_downtime_checkpoint', 'dst-precopy-bh-vm-started'),
    ].join('\n'),
  ).events;
  const p = downtimePhases({ source, destination, clockOffsetUs: 2_000_000, windows: { source: { fromUs: 99_500_000 } } })!;
  t.truthy(p);
  t.is(p.startUs, 100_000_000);
  const ms = Object.fromEntries(p.phases.map((x) => [x.name, Math.round(x.durationMs * 10) / 10]));
  t.deepEqual(ms, { 'source stop': 0.9, 'iterable state saved': 167.1, 'non-iterable state saved': 6, 'destination load completed': 19, 'device start': 1.2 });
  t.deepEqual(p.missing, []);
  t.is(Math.round(p.checkpoints.find((c) => c.name === 'dst-precopy-bh-vm-started')!.atMs * 10) / 10, 194.2);
  // a QEMU without the checkpoints (7.2) gives none: no phase is invented
  t.is(downtimePhases({ source: parseTrace(line(1, 'runstate_set', 'x')).events, destination: [], clockOffsetUs: 0 }), null);
  // a missing destination checkpoint is named, the source phases stay
  const partial = downtimePhases({ source, destination: [], clockOffsetUs: 0 })!;
  t.deepEqual(
    partial.phases.map((x) => x.name),
    ['source stop', 'iterable state saved', 'non-iterable state saved'],
  );
  t.regex(partial.missing.join(' | '), /destination load completed \(dst-precopy-loadvm-completed not traced\)/);
});
