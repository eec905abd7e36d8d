/**
 * The typed parts of an iteration record's `extra`: what each lab feature measured about one
 * migration, beside the trace metrics. Each is written by one producer (named in its
 * description) and is the one description of its shape: the producers' types are derived from
 * these schemas, the reader validates them, and the exported JSON Schema documents them. Any other
 * key of `extra` is another lab's own field, kept as it is.
 */
import { z } from 'zod';

const ms = z.number().describe('milliseconds');
const nullableMs = ms.nullable();
const int = z.number().int();
const sourceClockUs = z.number().describe('µs since the epoch, source clock (destination times corrected by the clock offset)');

const pinningBatchSchema = z
  .strictObject({
    beginUs: sourceClockUs,
    commitUs: sourceClockUs,
    durationMs: ms,
    dmaMaps: int,
    bytes: z.number(),
    overlapsDowntime: z.boolean(),
    overlapMs: ms,
    line: int.describe("line of the batch's listener_begin_batch in the destination trace"),
  })
  .describe('one memory-listener batch on the destination (listener_begin_batch … commit) and the DMA maps it pinned');

const vringCountSchema = z.strictObject({
  event: z.string().describe('which event was counted: vhost_vdpa_set_vring_enable_one (QEMU >= 9.0, 8.2.3) or vhost_vdpa_set_vring_ready (8.1-8.2)'),
  enabled: int,
  expected: int.describe('2N+1 for N queue pairs (2N when the guest negotiated no control queue)'),
  order: z.array(int).describe('distinct indexes enabled, in the order they were first enabled'),
  failed: z.array(z.strictObject({ idx: int, r: z.number() })),
  ok: z.boolean(),
  problem: z.string().optional(),
});

export const vdpaPhasesSchema = z.strictObject({
  queuePairs: int,
  downtimeWindow: z
    .strictObject({ metric: z.string(), startUs: sourceClockUs, endUs: sourceClockUs })
    .nullable()
    .describe('the span the overlaps are measured against'),
  pinning: z.strictObject({
    batches: z.array(pinningBatchSchema),
    main: pinningBatchSchema.nullable().describe('the batch that mapped the most bytes: guest RAM'),
    totalDmaMaps: int,
    totalBytes: z.number(),
    overlapsDowntime: z.boolean(),
    overlapMs: ms,
  }),
  driverOk: z
    .strictObject({ timeUs: sourceClockUs, line: int, afterDowntimeStartMs: nullableMs })
    .nullable()
    .describe("the destination's last status write that set DRIVER_OK"),
  vrings: z.union([vringCountSchema, z.strictObject({ ok: z.null(), reason: z.string().describe('why the vrings could not be counted') })]),
  destinationQmpBlackoutMs: nullableMs,
});

/** `extra.phases` (harness/metrics/analyse.ts): the vDPA phases of a vDPA cell's migration. */
export const recordedPhasesSchema = vdpaPhasesSchema
  .extend({
    vdpaRule: z
      .strictObject({ start: z.string(), end: z.string(), fallback: z.string().nullable() })
      .nullable()
      .describe('which candidate event of the vdpa rule supplied each end, and why a fallback was used'),
  })
  .describe(
    "vDPA phases from the destination's trace (harness/metrics/phases.ts): pinning batches and their overlap with the downtime window, DRIVER_OK, vrings enabled against the 2N+1 expected, the QMP blackout at start-up",
  );

const side = z.enum(['source', 'destination']);

/** `extra.downtimePhases` (harness/metrics/downtime-phases.ts). */
export const downtimePhasesSchema = z
  .strictObject({
    startUs: sourceClockUs.describe('src-downtime-start, source clock µs: every atMs is relative to it'),
    checkpoints: z.array(z.strictObject({ name: z.string(), side, atUs: sourceClockUs, atMs: ms.describe('ms after src-downtime-start'), line: int })),
    phases: z.array(z.strictObject({ name: z.string(), side, startUs: sourceClockUs, endUs: sourceClockUs, durationMs: ms })),
    missing: z.array(z.string()).describe('phases whose checkpoints were not both traced'),
  })
  .describe("QEMU's own downtime checkpoints (vmstate_downtime_checkpoint, QEMU >= 8.2) and the five phases between them");

const spanUs = z.tuple([sourceClockUs, sourceClockUs]).describe('[from, to), source clock µs');

/** `extra.downtimeAttribution` (harness/metrics/downtime-attribution.ts). */
export const downtimeAttributionSchema = z
  .strictObject({
    metric: z.string().describe('the metric whose window is partitioned (the primary)'),
    startUs: sourceClockUs,
    endUs: sourceClockUs,
    windowUs: z.number().describe("endUs − startUs: the phases' durationUs add up to it exactly"),
    phases: z
      .array(
        z.strictObject({
          name: z.string(),
          side: z.enum(['source', 'destination']).nullable().describe('null for unattributed'),
          durationUs: z.number(),
          durationMs: ms,
          spans: z.array(spanUs).describe('the parts of the window this phase covers'),
        }),
      )
      .describe('named phases in switchover order, "unattributed" for what no pair of traced events brackets; never empty'),
    unattributedMs: ms,
    pinning: z
      .strictObject({
        totalMs: ms.describe('all listener batches that mapped memory, begin → commit'),
        beforeWindowMs: ms,
        insideWindowMs: ms,
        afterWindowMs: ms,
        batches: int,
      })
      .nullable()
      .describe(
        "where the destination's pinning (dma_map batches) fell against the window: before the freeze, inside it, after it; null for a cell without vDPA phases",
      ),
    vringEnables: int.nullable().describe('vring enables seen on the destination (null: not a vDPA cell)'),
  })
  .describe(
    "the downtime window partitioned into named phases from the traced events (QEMU's checkpoints, the vDPA pinning batches, DRIVER_OK, vring enables); their durations add up to the window",
  );

/** `extra.startup` (harness/migration/record.ts, from harness/qemu/instance.ts): how long each QEMU took to answer. */
export const startupTimingSchema = z
  .strictObject({
    socketAcceptedMs: nullableMs.describe('spawn → the QMP socket accepted a connection'),
    greetingMs: nullableMs.describe('spawn → the QMP greeting arrived'),
    firstAnswerMs: nullableMs.describe('spawn → the answer to the first command (qmp_capabilities, sent as soon as the socket accepted)'),
  })
  .describe('harness clock, ms since the harness asked the host to start the process');

export const startupPartSchema = z
  .strictObject({
    source: startupTimingSchema.nullable().describe("the process the guest migrated from (started for this block, or the previous migration's destination)"),
    destination: startupTimingSchema,
    incomingAcceptedMs: nullableMs.describe(
      'destination spawn → migrate-incoming answered (sent once the source was set up, so it includes the wait for the harness)',
    ),
    incomingLatencyMs: nullableMs.describe('migrate-incoming sent → answered'),
  })
  .describe('start-up of both QEMU processes of the migration, as the harness saw it over QMP');

export const networkDowntimeSchema = z.strictObject({
  periodMs: ms,
  replyTimeoutMs: ms,
  sent: int,
  received: int.describe('replies within the reply timeout'),
  lost: int.describe('probes without a reply within the timeout (late replies included)'),
  lateReplies: int.describe('replies that came, but after the reply timeout'),
  rttMs: z.strictObject({ p50: ms, p99: ms, max: ms }).nullable(),
  lostRun: z
    .strictObject({ probes: int, ms, firstSeq: int, fromUs: z.number(), toUs: z.number() })
    .nullable()
    .describe('the longest run of consecutive lost probes (prober clock, µs)'),
  rxGap: z.strictObject({ ms, fromUs: z.number(), toUs: z.number() }).nullable().describe('the longest gap between two replies as they arrived'),
  lateSends: int.describe('sends more than one period behind schedule (the prober was held up)'),
});

const probeLog = z.string().describe("the probe log's path as the run recorded it (the run directory keeps a copy in probes/NNNN.txt)");

/** `extra.network` (harness/labbox/hooks.ts): the probe's figures, or only its log when they could not be computed (metricErrors says why). */
export const networkPartSchema = z
  .union([networkDowntimeSchema.extend({ log: probeLog }), z.strictObject({ log: probeLog })])
  .describe('the fixed-rate probe across the switchover (lab in a box); only the log when its figures could not be computed (metricErrors.network says why)');

/** `extra.integrity` (harness/labbox/hooks.ts). */
export const integrityPartSchema = z
  .strictObject({
    guestDirtyRateMBps: z.number().nullable().optional().describe("the workload's last dirty rate on the source console; absent when the source was not seen"),
    sourceEvidence: z.array(z.string()).optional().describe('damage the source console printed'),
    verdict: z.enum(['ok', 'failed', 'no-verdict']).describe('the first integrity check that began and ended on the destination console'),
    check: int.nullable(),
    waitedMs: ms,
    evidence: z.array(z.string()).describe('damage the destination console printed'),
  })
  .describe("the guest's integrity after the switchover (lab in a box): console scans and memory checksums");

/** What the harness saw of the source's vDPA device before `migrate` (harness/migration/device-started.ts). */
export const sourceDeviceSchema = z.strictObject({
  driverOk: z.boolean().describe('started when the harness last looked, just before migrate'),
  driverOkAtMigrationStart: z
    .boolean()
    .optional()
    .describe('started when the migration began (replayed from the source trace up to the MIGRATION setup event)'),
  waitedMs: ms,
  rearms: int,
  decidedBy: z.string().optional().describe('the trace event that showed the state (file line in the source trace)'),
});

/** `extra.guestDevice` (harness/migration/device-started.ts). */
export const guestDevicePartSchema = z
  .strictObject({
    source: sourceDeviceSchema.nullable(),
    destination: z.strictObject({ driverOk: z.boolean(), decidedBy: z.string().nullable() }).nullable(),
  })
  .describe('whether the guest driver had started the vDPA device (DRIVER_OK) on each side (firmware guests)');

/** `extra.vdpaReadyGap` (harness/metrics/ready-gap.ts). */
export const readyGapSchema = z
  .strictObject({
    vdpaMs: ms,
    vdpaReadyMs: ms,
    gapMs: ms.describe('vdpa-ready minus vdpa (>= 0 by construction of the rules)'),
    tolerancePct: z.number(),
    floorMs: ms.describe('smallest gap ever flagged: sub-millisecond differences are trace-timestamp noise'),
    flagged: z.boolean(),
  })
  .describe('vdpa against vdpa-ready on a migration that has both, flagged when they differ by more than the tolerance');

const lockedBytes = z.union([z.number(), z.literal('unlimited')]).describe('bytes, or unlimited');

/** One QEMU's RLIMIT_MEMLOCK as the kernel reports it (/proc/PID/limits, "Max locked memory"), or why it could not be read. */
const qemuMemlockSchema = z.union([
  z.strictObject({ pid: int, softBytes: lockedBytes, hardBytes: lockedBytes }),
  z.strictObject({ pid: int, unknown: z.string().describe('why /proc/PID/limits could not be read') }),
]);

/** `extra.memlock` (harness/migration/memlock-hook.ts). */
export const memlockPartSchema = z
  .strictObject({
    requiredBytes: z.number().describe('the limit QEMU was launched with (prlimit): guest RAM + 1 GiB, which vhost-vDPA pins'),
    source: qemuMemlockSchema,
    destination: qemuMemlockSchema,
  })
  .describe("each QEMU's locked-memory limit read back from the running process before migrate (pinning cells)");

/** `extra.queuePairWait` (harness/lab/queue-pair-wait.ts). */
export const queuePairWaitSchema = z
  .strictObject({
    host: z.string(),
    device: z.string(),
    wanted: int.describe("the cell's queue pairs"),
    negotiated: int.nullable().describe('what the source device had negotiated when the wait ended (null: no driver yet)'),
    mq: z.boolean().nullable(),
    waitedMs: ms,
    reached: z.boolean(),
  })
  .describe("the wait before migrate until the source's vDPA device negotiated the cell's queue pairs (multi-queue cells, OS guests)");

/** One thread's CPU affinity: the list asked for (null: not pinned), and the kernel's Cpus_allowed_list read back from /proc/PID/task/TID/status. */
const threadAffinitySchema = z.strictObject({
  tid: int,
  wanted: z.string().nullable().describe('the CPU list the profile pins it to; null: left as QEMU started it'),
  allowed: z.string().nullable().describe('Cpus_allowed_list as the kernel has it; null: unreadable (see unknown)'),
  unknown: z.string().optional(),
});

/** One QEMU's NUMA placement as found before migrate. */
const qemuNumaSchema = z.strictObject({
  pid: int,
  memory: z
    .strictObject({
      wanted: z.string().describe('the policy numa_maps shows under the profile: bind:0, interleave:0-1, prefer:1'),
      qemu: z
        .strictObject({ hostNodes: z.array(int), policy: z.string() })
        .nullable()
        .describe("the backend's host-nodes and policy as QEMU has them (query-memdev); null: not answered"),
      kernel: z.array(z.string()).describe('the distinct non-default policies of the mappings in /proc/PID/numa_maps'),
      unknown: z.string().optional(),
    })
    .optional(),
  emulator: threadAffinitySchema.optional().describe("the main thread (QEMU's pid)"),
  vcpus: z
    .array(threadAffinitySchema.extend({ index: int }))
    .optional()
    .describe('each vCPU thread (query-cpus-fast thread-id)'),
});

/** `extra.numa` (harness/migration/numa-hook.ts). */
export const numaPartSchema = z
  .strictObject({ source: qemuNumaSchema.optional(), destination: qemuNumaSchema.optional() })
  .describe("each QEMU's guest-RAM policy and thread affinities, applied (taskset) and read back before migrate, on hosts with numa settings");

/** Every typed part of `extra`, by its key. */
export const recordPartsSchema = z.strictObject({
  phases: recordedPhasesSchema,
  downtimePhases: downtimePhasesSchema,
  downtimeAttribution: downtimeAttributionSchema,
  startup: startupPartSchema,
  network: networkPartSchema,
  integrity: integrityPartSchema,
  guestDevice: guestDevicePartSchema,
  vdpaReadyGap: readyGapSchema,
  memlock: memlockPartSchema,
  queuePairWait: queuePairWaitSchema,
  numa: numaPartSchema,
});

/** `extra`: the typed parts, and under any other key another lab's own fields, kept as they are. */
export const recordExtraSchema = recordPartsSchema
  .partial()
  .catchall(z.unknown())
  .describe(
    "lab parts by name (phases, downtimePhases, downtimeAttribution, startup, network, integrity, guestDevice, vdpaReadyGap, memlock, queuePairWait, numa, each typed); any other key is a lab's own field, kept as it is",
  );
