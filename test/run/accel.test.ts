import test from 'ava';
import { chooseAccel, resumedAccel, type AccelProbe } from '../../harness/run/accel.ts';
import type { RunManifest } from '../../harness/results/types.ts';

const probe = (host: string, verdict: AccelProbe['verdict'], reason = `${verdict} because`): AccelProbe => ({
  host,
  variants: ['idle', 'limit-300ms'],
  qemu: '/usr/bin/qemu-system-x86_64 in /root/.cache/vdpa-bench/qemu-roots/trixie',
  verdict,
  reason,
});

test('auto takes KVM only when every probe says usable', (t) => {
  const chosen = chooseAccel('auto', [probe('hostA', 'usable'), probe('hostB', 'usable')]);
  t.is(chosen.used, 'kvm');
  t.regex(chosen.reason, /KVM firmware boot of each variant's QEMU ran on every host/);
  t.is(chosen.probes.length, 2);
});

test('auto: an unknown probe is not usable: TCG, and the reason names the host, the variants and the probe', (t) => {
  const chosen = chooseAccel('auto', [probe('hostA', 'usable'), probe('hostB', 'unknown', 'no firmware output within 15 s')]);
  t.is(chosen.used, 'tcg');
  t.is(chosen.reason, 'auto: KVM is not known to work on hostB (idle, limit-300ms) (probe unknown: no firmware output within 15 s)');
});

test('auto: an unusable probe is named before an unknown one', (t) => {
  const chosen = chooseAccel('auto', [probe('hostA', 'unknown'), probe('hostB', 'unusable', 'failed: failed to set MSR 0x10a')]);
  t.is(chosen.used, 'tcg');
  t.regex(chosen.reason, /^auto: KVM is not usable on hostB .*MSR 0x10a/);
});

test('auto with no probe at all is TCG: nothing says KVM works', (t) => {
  t.is(chooseAccel('auto', []).used, 'tcg');
});

test('a profile that asks for kvm gets it, with the probe’s doubt in the reason; tcg is not probed', (t) => {
  const chosen = chooseAccel('kvm', [probe('hostA', 'unusable', '/dev/kvm does not exist')]);
  t.is(chosen.used, 'kvm');
  t.regex(chosen.reason, /the profile asks for kvm \(although the KVM probe on hostA .* says unusable: \/dev\/kvm does not exist\)/);
  t.deepEqual(chooseAccel('tcg', []), { used: 'tcg', reason: 'the profile asks for tcg', probes: [] });
});

test('a resumed run that fell back to TCG at its first boot stays on TCG', (t) => {
  const fresh = chooseAccel('auto', [probe('hostA', 'usable')]);
  const accel = {
    requested: 'auto',
    used: 'tcg',
    reason: 'auto: QEMU failed to start with KVM ...',
    fallback: { at: 'x', host: 'hostA', seq: 1, reason: 'kvm_buf_set_msrs' },
  };
  const resumed = resumedAccel({ accel } as RunManifest, fresh);
  t.is(resumed.used, 'tcg');
  t.is(resumed.reason, accel.reason);
  t.is(resumedAccel({ accel: { ...accel, fallback: undefined, used: 'kvm' } } as RunManifest, fresh), fresh);
});
