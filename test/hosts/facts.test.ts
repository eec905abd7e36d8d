import test from 'ava';
import { gatherHostFacts, kvmVerdict, parseKeyValues } from '../../harness/hosts/facts.ts';
import { LocalTransport } from '../../harness/hosts/local.ts';

test('a KVM whose -cpu host boot aborts is not usable, and the reason carries QEMU’s words', (t) => {
  // the exact lines QEMU 7.2 printed on a host whose KVM refuses MSR 0x10a (IA32_ARCH_CAPABILITIES)
  const kv = parseKeyValues(
    "kvm=fails\nkvmProbe=qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69 qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed. \n",
  );
  const verdict = kvmVerdict(kv);
  t.false(verdict.usable);
  t.regex(verdict.reason, /failed to set MSR 0x10a/);
  t.true(kvmVerdict({ kvm: 'usable' }).usable);
  t.false(kvmVerdict({ kvm: 'absent' }).usable);
  t.false(kvmVerdict({ kvm: 'no-access' }).usable);
});

test('the facts of this machine say whether KVM is usable with a reason', async (t) => {
  const facts = await gatherHostFacts(new LocalTransport('local'));
  t.is(typeof facts.kvm?.usable, 'boolean');
  t.truthy(facts.kvm?.reason);
  t.log(`kvm: ${facts.kvm?.usable} (${facts.kvm?.reason})`);
});
