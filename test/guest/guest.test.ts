/** The lab-in-a-box guest's pure parts: module order, initramfs format, command line, console. */
import test from 'ava';
import { consoleTail, damageEvidence, guestReady, integrityVerdict, lastWorkloadRate } from '../../harness/guest/console.ts';
import { cpioArchive, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG } from '../../harness/guest/cpio.ts';
import { guestKernelCmdline } from '../../harness/profile/guest-cmdline.ts';
import { imagePackageFromDepends } from '../../harness/guest/build.ts';
import { loadOrder, moduleName, parseModulesDep } from '../../harness/guest/modules.ts';
import { profileSchema } from '../../harness/profile/schema.ts';
import type { BuiltinLinuxGuest } from '../../harness/profile/schema.ts';

// modules.dep as depmod wrote it for linux-image-6.1.0-56-cloud-amd64 (the lines that matter)
const MODULES_DEP = `kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio.ko:
kernel/net/core/failover.ko:
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
`;

test('module load order follows modules.dep: dependencies first, each module once', (t) => {
  const order = loadOrder(parseModulesDep(MODULES_DEP), ['virtio_net', 'virtio_pci']).map(moduleName);
  t.deepEqual(order, ['virtio_ring', 'virtio', 'failover', 'net_failover', 'virtio_net', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci']);
});

test('a module modules.dep does not know is an error naming it', (t) => {
  t.throws(() => loadOrder(parseModulesDep(MODULES_DEP), ['vhost_net']), { message: /vhost_net is not in modules\.dep/ });
  t.is(moduleName('kernel/drivers/net/virtio-net.ko.xz'), 'virtio_net');
});

/** Reads a newc archive back: what the kernel's initramfs unpacker does. */
function readCpio(archive: Buffer) {
  const entries: { name: string; mode: number; data: Buffer; rdev: [number, number] }[] = [];
  let offset = 0;
  for (;;) {
    const magic = archive.toString('latin1', offset, offset + 6);
    if (magic !== '070701') throw new Error(`bad magic at ${offset}: ${magic}`);
    const field = (i: number) => parseInt(archive.toString('latin1', offset + 6 + i * 8, offset + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const rdev: [number, number] = [field(9), field(10)];
    const nameSize = field(11);
    const name = archive.toString('latin1', offset + 110, offset + 110 + nameSize - 1);
    let dataStart = offset + 110 + nameSize;
    dataStart += (4 - (dataStart % 4)) % 4;
    const data = archive.subarray(dataStart, dataStart + size);
    offset = dataStart + size;
    offset += (4 - (offset % 4)) % 4;
    if (name === 'TRAILER!!!') return entries;
    entries.push({ name, mode, data, rdev });
  }
}

test('cpio newc archive round-trips names, modes, data, symlinks and device numbers', (t) => {
  const archive = cpioArchive([
    { path: 'bin', mode: S_IFDIR | 0o755 },
    { path: '/init', mode: S_IFREG | 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
    { path: 'bin/sh', mode: S_IFLNK | 0o777, linkTarget: 'busybox' },
    { path: 'dev/console', mode: S_IFCHR | 0o600, rdev: [5, 1] },
    { path: 'odd', mode: S_IFREG | 0o644, data: Buffer.from([1, 2, 3]) },
  ]);
  t.is(archive.length % 4, 0);
  const entries = readCpio(archive);
  t.deepEqual(
    entries.map((e) => e.name),
    ['bin', 'init', 'bin/sh', 'dev/console', 'odd'],
  );
  t.is(entries[1].data.toString(), '#!/bin/sh\necho hi\n');
  t.is(entries[1].mode, S_IFREG | 0o755);
  t.is(entries[2].data.toString(), 'busybox');
  t.deepEqual(entries[3].rdev, [5, 1]);
  t.deepEqual([...entries[4].data], [1, 2, 3]);
});

test('the kernel metapackage resolves to its versioned image package', (t) => {
  t.is(
    imagePackageFromDepends('linux-image-cloud-amd64', 'linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n'),
    'linux-image-6.1.0-56-cloud-amd64',
  );
  t.is(imagePackageFromDepends('linux-image-6.1.0-56-cloud-amd64', ''), 'linux-image-6.1.0-56-cloud-amd64');
  t.throws(() => imagePackageFromDepends('linux-image-nope', 'linux-image-nope\n'), { message: /depends on no versioned linux-image package/ });
});

function guest(extra: Record<string, unknown>): BuiltinLinuxGuest {
  const profile = profileSchema.parse({
    name: 'x',
    hosts: [{ name: 'a' }],
    variants: [{ name: 'v' }],
    matrix: { vmSizes: ['512M'] },
    vm: { guest: { kind: 'builtin-linux', ...extra } },
  });
  return profile.vm.guest as BuiltinLinuxGuest;
}

test('the kernel command line carries address, IPv6 choice, workload and integrity settings', (t) => {
  const idle = guestKernelCmdline(guest({}));
  t.regex(idle, /console=ttyS0/);
  t.regex(idle, /vb\.ip=10\.98\.0\.2\/24/);
  t.regex(idle, /ipv6\.disable=1/);
  t.notRegex(idle, /vb\.ws=/);
  const dirty = guestKernelCmdline(
    guest({ ipv6: true, workload: { kind: 'dirty', workingSet: '256M', chunk: '16M', rate: '190M' }, integrity: { reference: '4M', interval: '500ms' } }),
  );
  t.notRegex(dirty, /ipv6\.disable/);
  t.regex(dirty, /vb\.ws=256 vb\.chunk=16 vb\.rate=190/);
  t.regex(dirty, /vb\.ref=4 vb\.check=500/);
  t.regex(guestKernelCmdline(guest({ workload: { kind: 'dirty' } })), /vb\.rate=0/, 'no rate: as fast as the guest can');
});

test('workload sizes the guest cannot use are clear errors', (t) => {
  t.throws(() => guestKernelCmdline(guest({ workload: { kind: 'dirty', workingSet: '16M', chunk: '16M' } })), { message: /at least two whole chunks/ });
  t.throws(() => guestKernelCmdline(guest({ workload: { kind: 'dirty', workingSet: '100M', chunk: '16M' } })), { message: /at least two whole chunks/ });
  t.throws(() => guestKernelCmdline(guest({ workload: { kind: 'dirty', chunk: '1.5M' } })), { message: /whole number of MiB/ });
  t.throws(() =>
    profileSchema.parse({
      name: 'x',
      hosts: [{ name: 'a' }],
      variants: [{ name: 'v' }],
      matrix: { vmSizes: ['1G'] },
      vm: { guest: { kind: 'builtin-linux', address: '10.0.0.1; reboot' } },
    }),
  );
});

const BOOT = `[    1.530309] acpi PNP0A03:00: fail to add MMCONFIG information\r\nvb-boot uptime_ms=4410\r\nvb-ready ip=10.98.0.2/24 ws_mb=128\r\nvb-check 1 begin\r\nvb-workload rate_mbps=30 pass=1\r\nvb-check 1 ok\r\nvb-workload rate_mbps=18 pass=2\r\n`;

test('console: ready, workload rate, and a clean boot shows no damage', (t) => {
  t.true(guestReady(BOOT));
  t.false(guestReady('vb-boot uptime_ms=1\n'));
  t.is(lastWorkloadRate(BOOT), 18);
  t.is(lastWorkloadRate('vb-ready\n'), null);
  t.deepEqual(damageEvidence(BOOT), []);
  t.deepEqual(consoleTail(BOOT, 1), ['vb-workload rate_mbps=18 pass=2']);
});

test('console: the verdict needs a check that began after the switchover', (t) => {
  t.deepEqual(integrityVerdict('vb-check 7 ok\n'), { verdict: 'pending' }, 'a check that began on the source says nothing');
  t.deepEqual(integrityVerdict('vb-check 7 ok\nvb-check 8 begin\n'), { verdict: 'pending' });
  t.deepEqual(integrityVerdict('vb-check 8 begin\nvb-check 8 raced\nvb-check 9 begin\nvb-check 9 ok\n'), { verdict: 'ok', check: 9 });
  const failed = integrityVerdict('vb-check 7 FAIL working-set slot 3 matches neither written block\n');
  t.is(failed.verdict, 'failed');
});

test('console: kernel damage found as the hand runs saw it', (t) => {
  const text = [
    'vb-check 3 begin',
    '[  101.2] list_add corruption. prev->next should be next (ffff8880), but was 0000000000000000.',
    '[  101.2] kernel BUG at lib/list_debug.c:30!',
    '[  101.3] virtio_net virtio0: output.0:id 92 is not a head!',
    '[  101.4] BUG: kernel NULL pointer dereference, address: 0000000000000008',
    '[  101.5] Kernel panic - not syncing: Fatal exception',
  ].join('\n');
  t.is(damageEvidence(text).length, 5);
  t.is(damageEvidence(text, 2).length, 2);
});

test('a variant with its own workload boots with its own command line; the others keep the profile one', async (t) => {
  const { labHooks } = await import('../../harness/labbox/hooks.ts');
  const base = guest({ workload: { kind: 'dirty', workingSet: '256M', chunk: '16M', rate: '190M' } });
  const idle = guestKernelCmdline({ ...base, workload: { kind: 'idle' } });
  const hooks = labHooks({ guest: base, variantCmdlines: new Map([['idle', idle]]), bootTimeoutMs: 1000, note: () => {} });
  const vm = profileSchema.shape.vm.parse({ guest: { kind: 'kernel', kernel: '/k', append: guestKernelCmdline(base) } });
  const launchOf = (name: string) =>
    hooks.launch!({ variant: { name } as never, vm, host: {} as never, role: 'src', planned: {} as never }) as { vm?: typeof vm };
  const changed = launchOf('idle').vm!;
  t.is(changed.guest.kind === 'kernel' ? changed.guest.append : '', idle);
  t.notRegex(idle, /vb\.ws=/);
  t.is(launchOf('dirty').vm, undefined);
});
