import test from 'ava';
import { beforeSetupChecks, offeredQueuePairs } from '../../harness/provision/preflight.ts';

const sim = { driver: 'vdpa_sim_net', managementDevice: 'vdpasim_net', devices: [{ name: 'vdpa0', mac: '52:54:00:00:00:01' }] } as const;
// `vdpa -j mgmtdev show vdpasim_net` in the lab VM (kernel 6.12)
const SIM_JSON =
  '{"mgmtdev":{"vdpasim_net":{"supported_classes":["net"],"max_supported_vqs":3,"dev_features":["MTU","MAC","STATUS","CTRL_VQ","CTRL_MAC_ADDR","ANY_LAYOUT","VERSION_1","ACCESS_PLATFORM"]}}}';
const run = (stdout: string) => ({ exitCode: 0, stdout, stderr: '' });

test('max_supported_vqs counts the control queue: 3 is one queue pair, 17 is eight', (t) => {
  t.is(offeredQueuePairs(SIM_JSON, 'vdpasim_net'), 1);
  t.is(offeredQueuePairs('{"mgmtdev":{"pci/0000:3b:00.2":{"max_supported_vqs":17}}}', 'pci/0000:3b:00.2'), 8);
  t.is(offeredQueuePairs('not json', 'vdpasim_net'), undefined);
});

test('a profile asking vdpa_sim_net for 2 queue pairs fails preflight, saying why; 1 queue pair adds no check', (t) => {
  const check = beforeSetupChecks({ config: { ...sim, devices: [...sim.devices] } as never, largestGuestBytes: 2 ** 30, queuePairs: 2 }).find((c) =>
    /queue pairs/.test(c.name),
  );
  t.truthy(check);
  t.regex(check!.evaluate(run(SIM_JSON))!, /vdpasim_net offers 1 queue pair, the profile asks for 2: vdpa_sim_net has one queue pair .* rejects max_vqp/);
  // before its module is loaded the simulator is not listed: still refused, it never has more
  t.regex(check!.evaluate(run('{"mgmtdev":{}}'))!, /asks for 2/);
  t.false(
    beforeSetupChecks({ config: { ...sim, devices: [...sim.devices] } as never, largestGuestBytes: 2 ** 30, queuePairs: 1 }).some((c) =>
      /queue pairs/.test(c.name),
    ),
  );
});

test('an mlx5 management device not there before set-up is left to the device step; one with too few queues is refused', (t) => {
  const mlx5 = { driver: 'mlx5_vdpa', managementDevice: 'pci/0000:3b:00.2', pf: '0000:3b:00.0', devices: [{ name: 'vdpa0', mac: '52:54:00:00:00:01' }] };
  const check = beforeSetupChecks({ config: mlx5 as never, largestGuestBytes: 2 ** 30, queuePairs: 8 }).find((c) => /queue pairs/.test(c.name))!;
  t.is(check.evaluate(run('{"mgmtdev":{}}')), null);
  t.is(check.evaluate(run('{"mgmtdev":{"pci/0000:3b:00.2":{"max_supported_vqs":17}}}')), null);
  t.regex(check.evaluate(run('{"mgmtdev":{"pci/0000:3b:00.2":{"max_supported_vqs":5}}}'))!, /offers 2 queue pairs, the profile asks for 8$/);
});
