/** The NUMA placement settings of a host: CPU lists, the memory backend's options, what numa_maps shows, and what a profile cannot ask. */
import test from 'ava';
import { parseProfile, ProfileError } from '../../harness/profile/load.ts';
import { formatCpuList, memoryBackendNumaProps, numaMapsPolicy, parseCpuList, vcpuCpus } from '../../harness/profile/numa.ts';
import { memoryBackendArgs } from '../../harness/qemu/command.ts';

const profileWith = (numa: string, cpus = 2) =>
  `name: t\nhosts: [{name: a, numa: ${numa}}, {name: b}]\nvariants: [{name: v}]\nvm: {cpus: ${cpus}}\nmatrix: {vmSizes: [128M]}\n`;

test('CPU lists read and write as taskset and the kernel write them', (t) => {
  t.deepEqual(parseCpuList('0-3,8,10-11'), [0, 1, 2, 3, 8, 10, 11]);
  t.deepEqual(parseCpuList(' 5 '), [5]);
  t.is(formatCpuList([11, 0, 1, 2, 8, 10, 2]), '0-2,8,10-11');
  t.is(formatCpuList(parseCpuList('8-15')), '8-15');
  for (const bad of ['', 'a', '1-', '3-1', '1,,2', '-1', '1 2']) t.throws(() => parseCpuList(bad), undefined, bad);
});

test("the memory backend carries host-nodes= per node and policy=, as QEMU's -object takes a list", (t) => {
  const profile = parseProfile(profileWith('{memory: {hostNodes: [0, 2]}}'));
  const memory = profile.hosts[0].numa!.memory!;
  t.deepEqual(memory, { hostNodes: [0, 2], policy: 'bind' }, 'policy bind by default');
  t.deepEqual(memoryBackendNumaProps(memory), ['host-nodes=0', 'host-nodes=2', 'policy=bind']);
  t.is(memoryBackendArgs(profile.vm, 2 ** 27, '/w', memory), 'memory-backend-ram,id=mem0,size=128M,host-nodes=0,host-nodes=2,policy=bind');
  t.is(memoryBackendArgs(profile.vm, 2 ** 27, '/w'), 'memory-backend-ram,id=mem0,size=128M', 'no placement, no options');
  t.deepEqual(memoryBackendNumaProps(undefined), []);
});

test('numa_maps names the policies as mempolicy.c prints them', (t) => {
  t.is(numaMapsPolicy({ hostNodes: [0], policy: 'bind' }), 'bind:0');
  t.is(numaMapsPolicy({ hostNodes: [1, 0], policy: 'interleave' }), 'interleave:0-1');
  t.is(numaMapsPolicy({ hostNodes: [1], policy: 'preferred' }), 'prefer:1');
});

test('vCPU lists: one for all, or one per vCPU', (t) => {
  t.is(vcpuCpus('8-15', 3), '8-15');
  t.is(vcpuCpus(['8', '9'], 1), '9');
  const profile = parseProfile(profileWith("{vcpus: ['8', '9'], emulator: '16'}"));
  t.deepEqual(profile.hosts[0].numa, { vcpus: ['8', '9'], emulator: '16' });
  t.is(profile.hosts[1].numa, undefined);
});

test('a placement that cannot work anywhere is refused at load, at its line', (t) => {
  const refused = (numa: string, cpus?: number) => t.throws(() => parseProfile(profileWith(numa, cpus)), { instanceOf: ProfileError })!.message;
  t.regex(refused('{memory: {hostNodes: [0, 1], policy: preferred}}'), /policy preferred takes exactly one host node/);
  t.regex(refused('{memory: {hostNodes: []}}'), /hosts\.0\.numa\.memory\.hostNodes|at least 1|too small/i);
  t.regex(refused("{vcpus: '8-'}"), /"8-" is not a CPU list/);
  t.regex(refused("{emulator: '3-1'}"), /runs backwards/);
  t.regex(refused("{vcpus: ['8', '9', '10']}", 2), /3 CPU lists for 2 vCPUs \(vm\.cpus\)/);
  t.regex(refused('{memory: {hostNodes: [0], policy: local}}'), /policy/);
});
