import test from 'ava';
import { gatherHostFacts, parseKeyValues } from '../../harness/hosts/facts.ts';
import { LocalTransport } from '../../harness/hosts/local.ts';

test('the facts of this machine name its kernel and CPUs and make no claim about KVM (the run probes it with its own QEMU)', async (t) => {
  const facts = await gatherHostFacts(new LocalTransport('local'));
  t.truthy(facts.kernel);
  t.true((facts.cpus ?? 0) > 0);
  t.is(facts.kvm, undefined);
});

test('key=value lines split at the first equals sign', (t) => {
  t.deepEqual(parseKeyValues('cmdline=root=/dev/vda ro\nkernel=6.1\nnoise\n'), { cmdline: 'root=/dev/vda ro', kernel: '6.1' });
});
