import test from 'ava';
import { join } from 'node:path';
import { cacheRoot } from '../../harness/guest/build.ts';
import { buildProgram } from '../../harness/cli/main.ts';
import { LocalTransport, NetnsTransport } from '../../harness/hosts/local.ts';
import { readdir } from 'node:fs/promises';
import { registerTransport } from '../../harness/hosts/open.ts';
import { deviceFor } from '../../harness/lab/vdpa.ts';
import { planRun } from '../../harness/plan/plan.ts';
import { loadProfile, parseProfile } from '../../harness/profile/load.ts';

// every local host in this file records what it is asked to execute: plan must ask nothing
const executed: string[] = [];
for (const kind of ['local', 'netns'] as const)
  registerTransport(kind, (host) => {
    const real = host.transport.kind === 'netns' ? new NetnsTransport(host.name, host.transport.namespace) : new LocalTransport(host.name);
    const refuse = (what: string) => async () => {
      executed.push(`${host.name}: ${what}`);
      throw new Error('plan executed a command');
    };
    return Object.assign(Object.create(real) as LocalTransport, {
      run: refuse('run'),
      script: refuse('script'),
      start: refuse('start'),
      readFile: refuse('readFile'),
      fetchFile: refuse('fetchFile'),
    });
  });

async function plan(file: string, options = {}) {
  return planRun(await loadProfile(file), options);
}

function indexOf(text: string, needle: string, from = 0): number {
  const i = text.indexOf(needle, from);
  if (i === -1) throw new Error(`plan lacks: ${needle}`);
  return i;
}

test('plan succeeds on every shipped profile, executing nothing', async (t) => {
  const files = (await readdir('profiles')).filter((f) => f.endsWith('.yaml'));
  t.true(files.length >= 6, files.join(', '));
  for (const file of files) {
    const text = await plan(`profiles/${file}`);
    t.regex(text, /== migrations \(in order\) ==/, file);
    t.regex(text, /\] start source\b/, file);
  }
  t.deepEqual(executed, []);
});

test('lab-in-a-box plan: the guest build, the prober build and the namespaced network as steps, then QEMU on the namespaces with its tap', async (t) => {
  const text = await plan('profiles/lab-in-a-box.yaml');
  let at = indexOf(text, '== lab in a box');
  at = indexOf(text, 'apt-cache depends linux-image-cloud-amd64', at);
  at = indexOf(text, 'apt-get download -q IMAGE=VERSION busybox-static=VERSION', at);
  at = indexOf(text, '## ICMP prober build', at);
  at = indexOf(text, 'gcc -O2 -Wall -o ', at);
  at = indexOf(text, 'ip netns add vbTOKEN-hostA', at);
  at = indexOf(text, 'ip -n vbTOKEN-hostA link add mig0 type veth peer name mig0 netns vbTOKEN-hostB', at);
  at = indexOf(text, 'ip -n vbTOKEN-hostB tuntap add dev tap0 mode tap', at);
  at = indexOf(text, 'ip -n vbTOKEN-peer addr add 10.98.0.1/24 dev br0', at);
  at = indexOf(text, '== host hostA (netns) ==', at);
  at = indexOf(text, '[hostA] start source: ip netns exec vbTOKEN-hostA unshare --mount ', at);
  // trixie's QEMU runs from its debootstrapped root, inside the namespace
  // the guest's kernel is bound in too when the cache lies outside the directories bound anyway
  // (VDPA_BENCH_CACHE=/work/...; under ~/.cache it is inside /root)
  const cacheBound = ['/root/', '/tmp/', '/run/', '/var/tmp/'].some((dir) => `${cacheRoot()}/`.startsWith(dir));
  const binds = `/dev /sys /root /tmp /run /var/tmp${cacheBound ? '' : ` ${join(cacheRoot(), 'guest')}/`}`;
  at = indexOf(text, `vdpa-bench-qemu-root ${join(cacheRoot(), 'qemu-roots', 'trixie')} ${binds}`, at);
  at = indexOf(text, ' -- /usr/bin/qemu-system-x86_64 ', at);
  at = indexOf(text, '-netdev tap,id=n0,ifname=tap0,script=no,downscript=no', at);
  at = indexOf(text, '[peer] start the probe: ip netns exec vbTOKEN-peer ', at);
  at = indexOf(text, '"uri":"tcp:10.99.0.2:0"', at);
  indexOf(text, 'ip netns delete vbTOKEN-peer', at);
  t.regex(text, /-append 'console=ttyS0 [^']*vb\.ip=10\.98\.0\.2\/24[^']*vb\.rate=190'/, 'the dirtying variants boot with the workload');
  t.deepEqual(executed, []);
});

test('the lab profiles validate', async (t) => {
  for (const file of ['profiles/cx6dx-lab.yaml', 'profiles/rhel-lab.yaml', 'profiles/vdpasim.yaml']) {
    const lines: string[] = [];
    let code = 0;
    await buildProgram({ stdout: (s) => lines.push(s), stderr: (s) => lines.push(s) }, (c) => (code = c)).parseAsync(['node', 'vdpa-bench', 'validate', file]);
    t.is(code, 0, lines.join(''));
  }
});

test('cx6dx-lab plan: per host site scripts, preflight, set-up, both builds, verification; migrations; teardown, in that order', async (t) => {
  const text = await plan('profiles/cx6dx-lab.yaml');
  const hostA = indexOf(text, '== host lab-a (ssh) ==');
  const hostB = indexOf(text, '== host lab-b (ssh) ==');
  const migrations = indexOf(text, '== migrations (in order) ==');
  const teardown = indexOf(text, '== teardown ==');
  t.true(hostA < hostB && hostB < migrations && migrations < teardown);
  for (const [start, end, host] of [
    [hostA, hostB, 'lab-a'],
    [hostB, migrations, 'lab-b'],
  ] as const) {
    const section = text.slice(start, end);
    const order = [
      '## 1. NUMA preflight',
      '## 2. site scripts',
      '## 3. preflight',
      '## 4. set-up',
      '## 5. QEMU builds',
      '## 6. verify after set-up',
      '## 7. host facts',
    ].map((h) => indexOf(section, h));
    t.regex(section, /site script \S*\/profiles\/site\/cpu-governor\.mjs args \[\] {2}# from setup/);
    t.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
    );
    const login = `ssh -l vdpa -i '~/.ssh/vdpa-lab' -- ${host}.example.com`;
    // every command as root through sudo, its words quoted inside the one remote word
    const ssh = `${login} 'sudo -n --`;
    t.true(section.includes(`# sudo: logs in as vdpa; every command below runs as root through sudo -n --`));
    t.true(section.includes(`before the lock (must print 0; a password prompt stops the run): ${login} 'sudo -n -- id -u'`));
    t.true(section.includes('# sudo must allow: the login user must be able to run any command as root without a password'));
    for (const needle of [
      "sudo -n -- bash -s -- vhost_vdpa'",
      "sudo -n -- bash -s -- mlx5_vdpa'",
      '# memlock limit',
      `${ssh} devlink dev eswitch set pci/0000:3b:00.0 mode switchdev'`,
      `echo 1 | ${ssh} tee /sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs'`,
      `${ssh} vdpa dev add name vdpa0 mgmtdev pci/0000:3b:00.2 mac 52:54:00:6d:78:01 max_vqp 8'`,
      `echo 132 | ${ssh} tee /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages'`,
      `${ssh} mount -t hugetlbfs -o pagesize=1G none /dev/hugepages1G'`,
      "sudo -n -- bash -s -- vdpa0 vhost_vdpa'",
      '# variant before: https://gitlab.com/qemu-project/qemu.git v10.0.0',
      '# variant after: https://gitlab.com/qemu-project/qemu.git v10.1.0',
      '--prefix=/var/tmp/vdpa-bench/qemu-builds/before-KEY',
      '--prefix=/var/tmp/vdpa-bench/qemu-builds/after-KEY',
      '--target-list=x86_64-softmmu --enable-trace-backends=log --enable-kvm',
      'make -j"$(nproc)"',
      "sudo -n -- /var/tmp/vdpa-bench/qemu-builds/after-KEY/bin/qemu-system-x86_64 -trace help'",
      '-msg timestamp=on -trace enable=runstate_set -qmp stdio',
      `${ssh} vdpa -j mgmtdev show'`,
      '# /dev/vhost-vdpa-* of vdpa0',
    ]) {
      t.true(section.includes(needle), `${host} section lacks ${needle}`);
    }
  }
  // the seed's matrix: 2 sizes x 2 variants, interleaved ABBA in two blocks of 5 measured + 1 warm-up per boot
  t.is(text.match(/^### VM boot /gm)!.length, 8);
  t.is(text.match(/^# migration \d+: /gm)!.length, 48);
  const firstLaunch = text
    .slice(migrations)
    .split('\n')
    .find((l) => l.includes('start source'))!;
  for (const needle of [
    // guest RAM (39G) + 1 GiB locked for vhost-vDPA's pinning, raised for this QEMU alone, under sudo
    "'sudo -n -- prlimit --memlock=42949672960:42949672960 -- /var/tmp/vdpa-bench/qemu-builds/before-KEY/bin/qemu-system-x86_64 -name",
    'before-KEY/bin/qemu-system-x86_64',
    '-machine q35,memory-backend=mem0 -accel kvm -cpu host -smp 8 -m 39936M',
    '-object memory-backend-file,id=mem0,size=39936M,mem-path=/dev/hugepages1G,share=on,prealloc=off',
    '-netdev type=vhost-vdpa,vhostdev=/dev/vhost-vdpa-@vdpa0,id=vdpa0',
    '-device virtio-net-pci,netdev=vdpa0,disable-legacy=on,mq=on,vectors=18,mac=52:54:00:6d:78:01',
    '-trace enable=vhost_vdpa_suspend',
    '-trace enable=vhost_vdpa_set_vring_enable_one',
    '-trace enable=vhost_vdpa_listener_begin_batch',
    '-trace enable=vhost_vdpa_dma_map',
    '-drive file=/mnt/vdpa-lab/images/guest.qcow2,format=qcow2,if=virtio',
  ]) {
    t.true(firstLaunch.includes(needle), `first launch lacks ${needle}: ${firstLaunch}`);
  }
  t.true(text.includes('size=131072M,mem-path=/dev/hugepages1G'));
  // NUMA: each host's placement checked before anything (its nodes, CPUs, taskset), guest RAM bound on the command line,
  // the threads pinned and read back before every migration on both sides
  t.true(text.includes('# NUMA placement: guest RAM bind to node(s) 0, threads on CPUs 1-9'));
  t.true(firstLaunch.includes('mem-path=/dev/hugepages1G,share=on,prealloc=off,host-nodes=0,policy=bind -qmp'), firstLaunch);
  for (const [host, side] of [
    ['lab-a', 'source'],
    ['lab-b', 'destination'],
  ])
    t.is(
      text.match(
        new RegExp(
          `^\\[${host}\\] ${side} QEMU: emulator thread pinned: ssh .*'sudo -n -- taskset -p -c 1 QEMU_PID'; read back: .*/proc/QEMU_PID/task/QEMU_PID/status`,
          'gm',
        ),
      )?.length,
      24,
    );
  t.is(
    text.match(
      /QEMU: vCPU threads from QMP \{"execute":"query-cpus-fast"\} \(thread-id\), each pinned: .*'sudo -n -- taskset -p -c CPUS VCPU_TID' \(vCPU 0 → 2, vCPU 1 → 3, vCPU 2 → 4, vCPU 3 → 5, vCPU 4 → 6, vCPU 5 → 7, vCPU 6 → 8, vCPU 7 → 9\)/g,
    )?.length,
    96,
  );
  t.is(
    text.match(
      /QEMU: guest RAM host-nodes=0,policy=bind \(on its command line\); read back: QMP \{"execute":"query-memdev"\} and .*numa_maps' must show bind:0/g,
    )?.length,
    96,
  );
  t.true(text.includes('prlimit --memlock=138512695296:138512695296 -- '), 'the 128G guest gets 129 GiB');
  t.true(text.includes('# memlock limit for QEMU: 129 GiB, the largest guest + 1 GiB (prlimit --memlock=138512695296:138512695296)'));
  t.regex(text, /\[lab-b\] destination QEMU's locked-memory limit for the record \(extra\.memlock\): ssh .* 'sudo -n -- cat -- \/proc\/QEMU_PID\/limits'/);
  t.true(text.includes('after-KEY/bin/qemu-system-x86_64'));
  // ping-pong: back from lab-b to lab-a over lab-a's migration address
  t.true(text.includes('# migration 2: lab-b -> lab-a'));
  // a disk guest on vDPA: every migration waits for the guest driver's DRIVER_OK, no re-arming
  t.is(text.match(/^\[lab-[ab]\] wait until the source's guest driver has the vDPA device up \(DRIVER_OK in its trace, up to 10 min\)/gm)?.length, 48);
  // and for the cell's 8 queue pairs on the source device
  t.is(
    text.match(
      /^\[lab-[ab]\] wait until the source device has negotiated 8 queue pairs \(extra\.queuePairWait\): ssh .*'sudo -n -- vdpa -j dev config show vdpa0'$/gm,
    )?.length,
    48,
  );
  // explicit migration settings on both sides, then read back before migrate-incoming
  const setUp = text.indexOf('[lab-a] QMP source: {"execute":"migrate-set-parameters","arguments":{"max-bandwidth":10737418240,"downtime-limit":300}}');
  const readBack = text.indexOf('[lab-b] QMP destination: {"execute":"query-migrate-parameters"}');
  t.true(setUp > 0 && readBack > setUp && readBack < text.indexOf('"execute":"migrate-incoming"'), 'set, read back, then listen');
  t.true(text.includes('[lab-a] QMP source: {"execute":"query-migrate-capabilities"}'));
  // migration.port: each destination listens on the profile's port, the source migrates to it
  t.true(text.includes('[lab-a] QMP destination: {"execute":"migrate-incoming","arguments":{"uri":"tcp:192.168.100.1:49152"}}'));
  t.true(text.includes('[lab-b] QMP destination: {"execute":"migrate-incoming","arguments":{"uri":"tcp:192.168.100.2:49152"}}'));
  t.true(text.includes('{"execute":"migrate","arguments":{"uri":"tcp:192.168.100.2:49152"}}'));
  t.false(text.includes(':0"}}'), 'no ephemeral port anywhere');
  // the firewall: preflight reads it, set-up opens the port (migration.firewall: open), teardown closes it
  t.true(text.includes('# migration port 49152/tcp through the firewall to 192.168.100.2'));
  t.true(
    text.includes(
      "# migration port 49152/tcp open to 192.168.100.1 for the run\ncheck: ssh -l vdpa -i '~/.ssh/vdpa-lab' -- lab-a.example.com 'sudo -n -- bash -s -- 192.168.100.1'",
    ),
  );
  t.true(text.includes("apply: ssh -l vdpa -i '~/.ssh/vdpa-lab' -- lab-b.example.com 'sudo -n -- bash -s -- firewall-cmd --zone=ZONE --add-port=49152/tcp'"));
  t.true(text.includes('"command-line":"logfile /var/tmp/vdpa-bench/RUN_ID/traces/0002-'));
  const down = text.slice(teardown);
  t.true(indexOf(down, "sudo -n -- vdpa dev del vdpa0'") < indexOf(down, 'modprobe -r mlx5_vdpa'));
  t.true(indexOf(down, 'modprobe -r vdpa') < indexOf(down, "sudo -n -- umount /dev/hugepages1G'"));
  t.true(down.includes("sudo -n -- devlink dev eswitch set pci/0000:3b:00.0 mode PREVIOUS'"));
  t.true(
    indexOf(
      down,
      "undo migration port 49152/tcp open to 192.168.100.1 for the run: ssh -l vdpa -i '~/.ssh/vdpa-lab' -- lab-a.example.com 'sudo -n -- bash -s -- firewall-cmd --zone=PREVIOUS --remove-port=49152/tcp'",
    ) < indexOf(down, 'vdpa dev del vdpa0'),
    'the port closes first (set-up opened it last)',
  );
});

test('vdpasim plan: one box, two devices that source and destination alternate, no max_vqp', async (t) => {
  const text = await plan('profiles/vdpasim.yaml');
  t.true(text.includes('vdpa dev add name vdpa0 mgmtdev vdpasim_net mac 52:54:00:12:34:56\n'));
  t.true(text.includes('vdpa dev add name vdpa1 mgmtdev vdpasim_net mac 52:54:00:12:34:56\n'));
  t.false(text.includes('max_vqp'));
  t.true(text.includes("bash -s -- vdpa_sim_net <<'SCRIPT'"));
  const starts = text
    .split('\n')
    .filter((l) => / start (source|destination) /.test(l))
    .map((l) => /\((vDPA device \w+)\)/.exec(l)![1]);
  // boot: source vdpa0, destination vdpa1; then each new destination takes the device the old source freed
  t.deepEqual(starts.slice(0, 4), ['vDPA device vdpa0', 'vDPA device vdpa1', 'vDPA device vdpa0', 'vDPA device vdpa1']);
  t.true(text.includes('-device virtio-net-pci,netdev=vdpa0,disable-legacy=on -boot n'));
  t.true(text.includes('-object memory-backend-memfd,id=mem0,size=1024M,share=on'));
  t.deepEqual(executed, []);
});

test('device assignment on one host alternates; on two hosts each uses its first device', (t) => {
  t.is(deviceFor(['a', 'b'], true, { seq: 1 }, 'src'), 'a');
  t.is(deviceFor(['a', 'b'], true, { seq: 1 }, 'dst'), 'b');
  t.is(deviceFor(['a', 'b'], true, { seq: 2 }, 'src'), 'b');
  t.is(deviceFor(['a', 'b'], true, { seq: 2 }, 'dst'), 'a');
  t.is(deviceFor(['a'], false, { seq: 2 }, 'dst'), 'a');
  t.throws(() => deviceFor(['a'], true, { seq: 1 }, 'dst'), { message: /needs two vDPA devices/ });
});

test('hostile profile values stay single words in the plan and never reach a shell unquoted', async (t) => {
  const hostile = '0000:3b:00.0; touch /tmp/pwned $(id) `id` \'q\' "dq"\nnext';
  const yaml = `
name: hostile
hosts:
  - name: a
    transport: { kind: local }
    workdir: "/var/tmp/x y;$(id)"
    vdpa:
      driver: mlx5_vdpa
      pf: ${JSON.stringify(hostile)}
      vfCount: 1
      managementDevice: ${JSON.stringify(`pci/${hostile}`)}
      devices: [{ name: vdpa0, mac: "52:54:00:00:00:01" }]
  - name: b
    transport: { kind: local }
    vdpa:
      driver: mlx5_vdpa
      managementDevice: pci/0000:3b:00.2
      devices: [{ name: vdpa0, mac: "52:54:00:00:00:01" }]
variants: [{ name: v, qemu: { binary: "/opt/q emu/$(id)/qemu" } }]
matrix: { vmSizes: [1G], queuePairs: [2] }
iterations: 1
warmup: 0
design: { order: sequential }
vm: { cpus: 1 }
migration: { timeout: 1m }
trace: { events: [runstate_set] }
metrics: { primary: runstate }
`;
  const profile = parseProfile(yaml, 'hostile.yaml');
  const text = await planRun({ profile, file: 'hostile.yaml', text: yaml, sha256: '0'.repeat(64) });
  t.true(text.includes(`apply: devlink dev eswitch set 'pci/0000:3b:00.0; touch /tmp/pwned $(id) \`id\` '\\''q'\\'' "dq"\nnext' mode switchdev\n`));
  t.true(text.includes(`bash -s -- '0000:3b:00.0; touch /tmp/pwned $(id) \`id\` '\\''q'\\'' "dq"\nnext' <<'SCRIPT'`));
  t.true(text.includes(`'/opt/q emu/$(id)/qemu' -name vdpa-bench-1-src`));
  t.true(text.includes(`'/var/tmp/x y;$(id)/RUN_ID/sock'`));
  t.deepEqual(executed, []);
});

test('a vDPA lab on one host with one device is a profile error at the device list', (t) => {
  const yaml = `name: one
hosts:
  - name: box
    vdpa:
      driver: vdpa_sim_net
      managementDevice: vdpasim_net
      devices:
        - { name: vdpa0, mac: "52:54:00:12:34:56" }
variants: [{ name: v, qemu: { binary: qemu-system-x86_64 } }]
matrix: { vmSizes: [1G], queuePairs: [1] }
`;
  t.throws(() => parseProfile(yaml, 'one.yaml'), {
    message: 'one.yaml:8:9 hosts.0.vdpa.devices: source and destination both run on box: it needs two vDPA devices (a vhost-vdpa device opens once)',
  });
});

test('plan launches QEMU through the hooks the run applies: a variant memory setting, and a hook the run is given', async (t) => {
  // the variant's own memory settings (variantMemoryHook) reach plan's command lines as they reach the run's
  const prealloc = await plan('profiles/softlab.yaml', { variants: ['before-prealloc'], vmSizes: ['256M'] });
  t.regex(prealloc, /\] start source \(vDPA device vdpa0\): .*-object memory-backend-ram,id=mem0,size=256M,prealloc=on /);
  const plain = await plan('profiles/softlab.yaml', { variants: ['before'], vmSizes: ['256M'] });
  t.notRegex(plain, /prealloc=on/);
  // a launch hook given to plan as to a run changes every QEMU line it prints
  const loaded = await loadProfile('profiles/local.yaml');
  const hooked = await planRun(loaded, { variants: ['precopy'], vmSizes: ['1G'], hooks: [{ launch: ({ vm }) => ({ vm: { ...vm, cpus: 3 } }) }] });
  const launches = hooked.split('\n').filter((l) => / start (source|destination): /.test(l));
  t.true(launches.length > 0);
  for (const line of launches) t.regex(line, / -smp 3 /);
  t.deepEqual(executed, []);
});

test('rhel-lab plan: every QEMU gets its tracer (qemu-trace-stap run --pid), the source waits under -S until it is attached, no -D', async (t) => {
  const text = await plan('profiles/rhel-lab.yaml');
  const starts = text.split('\n').filter((l) => /^\[lab-[ab]\] start (source|destination)/.test(l));
  const tracers = text.split('\n').filter((l) => /^\[lab-[ab]\] start tracer: /.test(l));
  t.true(starts.length > 0);
  t.is(tracers.length, starts.length, 'one tracer per QEMU started');
  for (const l of starts) t.false(/ -D | -trace /.test(l), 'the dtrace QEMU gets no log-backend options');
  t.true(starts.filter((l) => l.includes('start source')).every((l) => / -S /.test(l)));
  t.regex(
    text,
    /# {3}ssh .* 'qemu-trace-stap run --pid '\\''\$QEMU_PID'\\'' \/usr\/libexec\/qemu-kvm runstate_set vmstate_downtime_checkpoint vhost_vdpa_suspend .* qmp_enter_query_name'/,
  );
  t.regex(text, /qemu-trace-stap run --pid '\\''\$QEMU_PID'\\'' \/var\/tmp\/vdpa-bench\/qemu-builds\/after-KEY\/bin\/qemu-system-x86_64 /);
  t.regex(
    text,
    /QMP source: \{"execute":"query-name"\}\n# \.\.\. repeated until \S+\.tracer-out has a qmp_enter_query_name line from \$QEMU_PID \(within 300000 ms\)\n\[lab-a\] QMP source: \{"execute":"cont"\}/,
  );
  t.regex(text, /# SDT probes of \/usr\/libexec\/qemu-kvm\n/);
  t.regex(text, /# the tracer's output so far is cut into the previous trace file; from here it goes to \S+0002-before-39G-8qp-src-lab-b\.log/);
  t.notRegex(text, /logfile /, 'no HMP logfile: the dtrace QEMU has no log backend');
});
