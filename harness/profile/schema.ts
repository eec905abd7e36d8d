/**
 * The profile model: one YAML file describes a whole lab (hosts, QEMU variants, the matrix of
 * VM sizes × queue pairs × variants, migration settings, traces and downtime metrics).
 * Every object is strict: an unknown key is a typo until proven otherwise.
 */
import { z } from 'zod';
import { durationString, traceSchema } from './trace.ts';
import { migrationPortFields } from './migration-port.ts';
import { numaSchema } from './numa.ts';
import { parseSize } from './size.ts';

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-" (it names files and report rows)');

export const sizeString = z
  .union([z.string(), z.number()])
  .superRefine((value, ctx) => {
    if (typeof value === 'number') {
      ctx.addIssue({ code: 'custom', message: `${value} has no unit: write e.g. 512M, 39G or 0.5G` });
      return;
    }
    try {
      parseSize(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  })
  .transform((value) => String(value))
  .describe('A memory size with a binary unit: 512M, 39G, 0.5G, 128GiB');

const localTransport = z.strictObject({ kind: z.literal('local') });
const sshTransport = z.strictObject({
  kind: z.literal('ssh'),
  host: z.string().min(1).describe('Address or name the ssh client connects to'),
  user: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  identityFile: z.string().min(1).optional(),
  jumpHost: z.string().min(1).optional().describe('ProxyJump, e.g. user@bastion:22'),
  knownHostsFile: z.string().min(1).optional(),
  strictHostKeyChecking: z.enum(['yes', 'accept-new', 'no']).default('accept-new'),
  controlPersist: durationString.default('10m').describe('How long the multiplexed master connection stays up when idle'),
  options: z.array(z.string()).default([]).describe('Extra -o options, e.g. ["ServerAliveInterval=5"]'),
  sudo: z
    .boolean()
    .default(false)
    .describe(
      'Log in as `user` and run every command as root through `sudo -n --` (argument array intact): QEMU, tracers, the lock holder, file reads. The user needs NOPASSWD sudo for all commands (`USER ALL=(root) NOPASSWD: ALL`); preflight stops when sudo asks for a password',
    ),
});
const netnsTransport = z.strictObject({
  kind: z.literal('netns'),
  namespace: name.describe("Network namespace the harness runs this host's commands in"),
});
export const transportSchema = z.discriminatedUnion('kind', [localTransport, sshTransport, netnsTransport]);

const vdpaHostSchema = z.strictObject({
  managementDevice: z.string().min(1).describe('vdpa mgmtdev: pci/0000:3b:00.2, vdpasim_net or vduse'),
  driver: z.enum(['mlx5_vdpa', 'vdpa_sim_net', 'vduse']).describe('Kernel driver behind the management device'),
  pf: z.string().optional().describe('PCI address of the physical function (mlx5): put in switchdev mode, VFs created on it'),
  vfCount: z.number().int().min(0).optional(),
  devices: z
    .array(z.strictObject({ name, mac: z.string().regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'a MAC address like 52:54:00:12:34:56') }))
    .min(1)
    .describe('vDPA devices to create; the harness uses one per QEMU process on this host'),
  hugepages: z.strictObject({ size: sizeString, count: z.number().int().min(0) }).optional(),
});

/** A zx site script and its arguments (path relative to the profile file). */
export const siteScriptSchema = z
  .strictObject({
    script: z
      .string()
      .regex(/\.mjs$/, 'a zx script: a .mjs file exporting check, apply and undo')
      .describe('Path of the .mjs script, relative to the profile file'),
    args: z.array(z.string()).default([]).describe('Arguments the script receives as `args` (data, never shell text)'),
  })
  .describe('A site set-up script: check() reports the state found, apply() changes it, undo() puts back what check() found');

export const hostSchema = z.strictObject({
  name,
  transport: transportSchema.default({ kind: 'local' }),
  workdir: z.string().min(1).default('/var/tmp/vdpa-bench').describe('Where QEMU writes traces and sockets on this host'),
  migrationAddress: z.string().min(1).default('127.0.0.1').describe('Address the other host reaches this one on for the migration stream'),
  vdpa: vdpaHostSchema.optional(),
  numa: numaSchema.optional(),
  setup: z.array(siteScriptSchema).default([]).describe('zx scripts run on this host before the run (after the lab-wide setup) and undone after it'),
  qemuRoots: z
    .string()
    .regex(/^\//, 'an absolute path')
    .optional()
    .describe(
      'Where root filesystems for qemu.debian variants live on this host (one directory per suite); default /var/cache/vdpa-bench/qemu-roots over ssh, the harness cache on this machine',
    ),
});

const qemuBuildSchema = z.strictObject({
  git: z.string().min(1).optional().describe('Git URL of the QEMU source'),
  ref: z.string().min(1).optional().describe('Branch, tag or commit'),
  sourceDir: z.string().min(1).optional().describe('A QEMU source tree already on the host'),
  patches: z.array(z.string()).default([]).describe('Patch files applied in order on top (a series)'),
  configureArgs: z.array(z.string()).default([]),
  targets: z.array(z.string()).default(['x86_64-softmmu']),
  traceBackend: z.enum(['log', 'dtrace']).default('log'),
});

const workloadSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('idle') }).describe('The guest only answers the network and runs its integrity check'),
  z
    .strictObject({
      kind: z.literal('dirty'),
      workingSet: sizeString.default('256M').describe('Guest memory (a tmpfs buffer) the workload keeps rewriting'),
      chunk: sizeString.default('16M').describe('Bytes copied per write (random, non-zero data)'),
      rate: sizeString.optional().describe('Target bytes per second, e.g. 190M; omit to write as fast as the guest can'),
    })
    .describe('Copies random data between tmpfs buffers in a loop, dirtying memory at a steady rate'),
]);

/** A Debian suite or codename: it names a directory on the host and a debootstrap argument. */
export const debianSuite = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a Debian suite or codename, e.g. trixie, sid, bookworm');

export const variantSchema = z.strictObject({
  name,
  description: z.string().optional(),
  qemu: z
    .strictObject({
      binary: z.string().min(1).optional().describe('QEMU binary on the hosts (a name on PATH or an absolute path)'),
      build: qemuBuildSchema.optional(),
      chroot: z.string().min(1).optional().describe('Run QEMU inside this root filesystem (e.g. a newer distribution)'),
      debian: debianSuite
        .optional()
        .describe(
          "Run this Debian suite's qemu-system-x86 (bookworm, trixie, sid, ...) from a minimal root filesystem the harness debootstraps on each host, cached per suite",
        ),
    })
    .refine((q) => !q.debian || (!q.binary && !q.build && !q.chroot), { message: 'qemu.debian names the QEMU by itself: drop binary, build and chroot' })
    .default({ binary: 'qemu-system-x86_64' }),
  extraArgs: z.array(z.string()).default([]).describe('Extra QEMU arguments for this variant, one array element per argument'),
  capabilities: z.record(z.string(), z.boolean()).default({}).describe('migrate-set-capabilities, e.g. {multifd: true}'),
  parameters: z
    .record(z.string(), z.union([z.number(), z.string(), z.boolean()]))
    .default({})
    .describe('migrate-set-parameters, e.g. {downtime-limit: 300}'),
  memory: z
    .strictObject({
      backend: z.enum(['ram', 'file', 'memfd', 'hugepages']).optional(),
      prealloc: z.boolean().optional(),
      share: z.boolean().optional(),
      reserve: z.boolean().optional(),
    })
    .optional()
    .describe('Guest memory settings this variant changes from vm.memory (e.g. prealloc: true: pages faulted in before the guest runs)'),
  workload: workloadSchema
    .optional()
    .describe("This variant's guest workload instead of vm.guest.workload (builtin-linux guests), e.g. {kind: idle} against a dirtying guest"),
});

const memorySchema = z.strictObject({
  backend: z.enum(['ram', 'file', 'memfd', 'hugepages']).default('ram'),
  path: z.string().min(1).optional().describe('Directory for backend file/hugepages (QEMU creates and unlinks a file in it)'),
  reserve: z.boolean().optional().describe('reserve=off lets a sparse guest larger than the host start'),
  share: z.boolean().optional(),
  prealloc: z.boolean().optional(),
});

const cidr = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, 'an IPv4 address with prefix length, e.g. 10.98.0.2/24');

const builtinLinuxGuestSchema = z
  .strictObject({
    kind: z.literal('builtin-linux'),
    kernelPackage: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.+-]*$/, 'a Debian package name')
      .default('linux-image-cloud-amd64')
      .describe('Debian kernel package (a metapackage is resolved to its image)'),
    address: cidr.default('10.98.0.2/24').describe('Static IPv4 address of the guest NIC'),
    ipv6: z.boolean().default(false).describe('IPv6 in the guest (its MLD reports and router solicitations also move the bridge)'),
    workload: workloadSchema.default({ kind: 'idle' }),
    integrity: z
      .strictObject({
        reference: sizeString.default('8M').describe('Memory written once at boot and checksummed for the whole run'),
        interval: durationString.default('2s').describe('Pause between two integrity checks in the guest'),
        verdictTimeout: durationString.default('30s').describe('How long after a migration the harness waits for a check that started after it'),
      })
      .prefault({}),
  })
  .describe('A Linux guest the harness builds from Debian packages (kernel + busybox initramfs) and caches');

const guestSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('firmware') }).describe('No OS: the guest idles in firmware (SeaBIOS)'),
  z.strictObject({ kind: z.literal('pxe') }).describe('Firmware network boot (iPXE) drives the NIC to DRIVER_OK'),
  z.strictObject({
    kind: z.literal('kernel'),
    kernel: z.string().min(1),
    initrd: z.string().min(1).optional(),
    append: z.string().default(''),
  }),
  z.strictObject({
    kind: z.literal('disk'),
    image: z.string().min(1),
    format: z.enum(['raw', 'qcow2']).default('qcow2'),
    readonly: z.boolean().default(false),
  }),
  builtinLinuxGuestSchema,
]);

const nicSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('none') }),
  z.strictObject({ kind: z.literal('vdpa'), mac: z.string().optional(), shadowVirtqueue: z.boolean().default(false) }),
  z.strictObject({
    kind: z.literal('tap'),
    mac: z
      .string()
      .regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'a MAC address like 52:54:00:12:34:56')
      .optional(),
    guestAnnounce: z.boolean().default(true).describe('virtio-net guest_announce: the guest sends its own announcements after migration'),
  }),
]);

export const vmSchema = z.strictObject({
  accel: z.enum(['auto', 'kvm', 'tcg']).default('auto').describe('auto: KVM when /dev/kvm works for this guest, TCG otherwise'),
  cpus: z.number().int().min(1).default(1),
  cpuModel: z.string().min(1).optional().describe('-cpu; default host with KVM, max with TCG'),
  machine: z.string().min(1).default('pc'),
  memory: memorySchema.prefault({}),
  guest: guestSchema.default({ kind: 'firmware' }),
  nic: nicSchema.default({ kind: 'none' }),
  extraArgs: z.array(z.string()).default([]),
});

const eventMatcherSchema = z.strictObject({
  event: z.string().regex(/^[A-Za-z0-9_]+$/, 'a trace event name, e.g. vhost_vdpa_suspend'),
  match: z.string().optional().describe("Regular expression the event's arguments must match"),
});
const endpointSchema = z.strictObject({
  candidates: z.array(eventMatcherSchema).min(1).describe('Events tried in order'),
  combine: z
    .enum(['first-available', 'latest'])
    .default('first-available')
    .describe('first-available: the first candidate present wins (fallbacks); latest: the latest of all'),
});
export const metricRuleSchema = z.strictObject({
  description: z.string().optional(),
  start: endpointSchema.describe('Last occurrence on the source'),
  end: endpointSchema.describe('Last occurrence on the destination'),
});

const designSchema = z.strictObject({
  order: z
    .enum(['sequential', 'interleaved', 'randomized'])
    .default('sequential')
    .describe('interleaved: ABBA blocks across variants; randomized: shuffled blocks (seeded)'),
  blockSize: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      'Measured migrations per block (one VM boot per block); default: sequential runs one block per cell; interleaved and randomized split each cell into at least two blocks chosen so every variant has the same mean position in run order',
    ),
  seed: z.number().int().default(1),
});

export const profileSchema = z
  .strictObject({
    $schema: z.string().optional(),
    name,
    description: z.string().optional(),
    hosts: z.array(hostSchema).min(1),
    setup: z.array(siteScriptSchema).default([]).describe('zx scripts run on every host of the pair before the run, and undone after it'),
    pair: z.tuple([name, name]).optional().describe('The two hosts that migrate back and forth; default the first two (or the only one twice)'),
    variants: z.array(variantSchema).min(1),
    vm: vmSchema.prefault({}),
    matrix: z.strictObject({
      vmSizes: z.array(sizeString).min(1),
      queuePairs: z.array(z.number().int().min(1).nullable()).default([null]).describe('null: no vDPA NIC in this cell'),
      variants: z.array(name).optional().describe('Default: every variant, in profile order'),
    }),
    iterations: z.number().int().min(1).default(5).describe('Measured migrations per cell'),
    warmup: z.number().int().min(0).default(1).describe('Warm-up migrations per VM boot, marked and left out of statistics'),
    design: designSchema.prefault({}),
    network: z
      .strictObject({
        kind: z.literal('bridged-netns').describe('The harness creates a namespace per host and one for a peer, joined into one L2 segment by bridges'),
        peer: name.default('peer').describe('Name of the peer namespace (made unique per run)'),
        peerAddress: cidr.default('10.98.0.1/24'),
        migrationAddresses: z
          .tuple([cidr, cidr])
          .default(['10.99.0.1/30', '10.99.0.2/30'])
          .describe('Addresses of the veth link carrying the migration stream (first host, second host)'),
        announce: z
          .strictObject({
            rounds: z.number().int().min(0).optional().describe('QEMU announce-rounds (0: QEMU sends no self-announce)'),
            initial: z.number().int().min(1).optional().describe('announce-initial, ms'),
            max: z.number().int().min(1).optional().describe('announce-max, ms'),
            step: z.number().int().min(1).optional().describe('announce-step, ms'),
          })
          .prefault({}),
        probe: z
          .strictObject({
            rate: z.number().int().min(100).max(20000).default(1000).describe('ICMP echo requests per second from the peer to the guest'),
            tail: durationString.default('1s').describe('Probing continues at least this long after the guest passed its integrity check'),
            replyTimeout: durationString.default('1s').describe('A probe without a reply within this time counts as lost'),
            maxStrayLoss: z
              .number()
              .min(0)
              .max(100)
              .default(5)
              .describe(
                'Percent of probes outside the longest outage that may go unanswered; beyond it the guest cannot keep pace and no network figure is stated',
              ),
          })
          .prefault({}),
      })
      .optional()
      .describe('A network lab on this machine: hosts use transport netns; the harness builds and removes the namespaces'),
    precision: z
      .strictObject({
        medianCiHalfWidthPct: z
          .number()
          .positive()
          .describe('Stop a cell once the 95% confidence interval of its median downtime is narrower than ± this % of the median'),
        minIterations: z.number().int().min(6).default(8).describe('Measured migrations before the rule may stop a cell (a median CI needs at least 6)'),
        maxIterations: z.number().int().min(6).default(60).describe('A cell that never gets that precise stops here'),
      })
      .refine((p) => p.maxIterations >= p.minIterations, { message: 'maxIterations must be at least minIterations' })
      .optional()
      .describe('Adaptive sampling: measure each cell until its median is this precise, instead of a fixed iterations count (--iterations overrides it)'),
    migration: z
      .strictObject({
        timeout: durationString.default('10m').describe('A migration not completed by then is cancelled and recorded as failed'),
        ...migrationPortFields,
        qmpTimeout: durationString.default('30s').describe('How long a starting QEMU may take to answer on QMP'),
        reconnectTimeout: durationString
          .default('2m')
          .describe(
            'A host whose connection drops (ssh: sshd restarted, host rebooted, link down) is reconnected with backoff for up to this long; the migration in flight is recorded failed, QEMU processes left on the host are ended and the run goes on. A host still unreachable after it stops the run (state failed, completed migrations kept)',
          ),
        maxConsecutiveFailures: z
          .number()
          .int()
          .min(1)
          .default(3)
          .describe(
            'A cell (variant × size × queue pairs) is abandoned after this many migrations in a row that are not ok (failed or invalid); the run goes on with the next cell',
          ),
      })
      .prefault({}),
    trace: traceSchema,
    metrics: z
      .strictObject({
        primary: z.string().default('runstate'),
        use: z.array(z.string()).optional().describe('Metrics computed per migration; default: the primary only'),
        rules: z.record(name, metricRuleSchema).default({}).describe('Custom rules beside the built-in runstate, checkpoint, vdpa, vdpa-ready'),
        disagreementTolerancePct: z.number().min(0).default(25),
      })
      .prefault({}),
    compare: z
      .strictObject({
        baseline: name.optional(),
        candidate: name.optional(),
        noiseThresholdPct: z.number().min(0).default(5),
        purpose: z
          .string()
          .trim()
          .min(1)
          .optional()
          .describe(
            'One sentence the reports print first when they compare this pair: what the comparison is and why it is run (e.g. what it is not); the reports of a run that has not both variants leave it out',
          ),
      })
      .prefault({}),
  })
  .describe('vdpa-bench lab profile');

export type Profile = z.output<typeof profileSchema>;
export type Host = z.output<typeof hostSchema>;
export type Variant = z.output<typeof variantSchema>;
export type VmSettings = z.output<typeof vmSchema>;
export type Transport = z.output<typeof transportSchema>;
export type MetricRule = z.output<typeof metricRuleSchema>;
export type BuiltinLinuxGuest = z.output<typeof builtinLinuxGuestSchema>;
export type NetworkLab = NonNullable<Profile['network']>;
export type SiteScript = z.output<typeof siteScriptSchema>;
