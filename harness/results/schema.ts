/**
 * The results format as zod schemas: what `run` writes and what `report`, `compare`, `nightly`,
 * `merge` and `--resume` read. The same schemas validate on read and export the JSON Schema files
 * other labs write against (docs/schemas/, `npm run build:results-schema`). Records from another
 * lab need only variant, vmSize and status (and downtimeMs to be useful): seq defaults to the file
 * order, and without a manifest downtimeMs is the primary metric.
 */
import { z } from 'zod';
import { labBoxFactsSchema, labManifestSchema, siteSetupSchema, timeSyncSchema } from './manifest-parts.ts';
import { recordExtraSchema } from './record-parts.ts';

export const ITERATION_SCHEMA = 'vdpa-bench/iteration@1';
export const MANIFEST_SCHEMA = 'vdpa-bench/manifest@1';

const ms = z.number().describe('milliseconds');
const nullableMs = ms.nullable();
export const metricAnchorSchema = z.strictObject({
  event: z.string(),
  timeUs: z.number().describe('µs since the epoch, source clock (destination anchors corrected by the clock offset)'),
  line: z.number().int(),
});
const anchor = metricAnchorSchema;
export const clockEstimateSchema = z.strictObject({
  offsetUs: z.number().describe('destination-minus-source clock offset applied to destination times, µs'),
  uncertaintyUs: z.number().nonnegative(),
  method: z.string(),
  roundTripUs: z.strictObject({ from: z.number(), to: z.number() }).optional().describe('round trip of the winning sample per host (measured estimates only)'),
});
const clockEstimate = clockEstimateSchema;
export const migrationRamStatsSchema = z
  .strictObject({
    transferredBytes: z.number().optional(),
    normalPages: z.number().optional().describe('pages sent with their contents'),
    zeroPages: z.number().optional().describe('zero pages, sent as a flag ("duplicate" in QMP)'),
    dirtySyncCount: z.number().optional(),
    mbps: z.number().optional(),
    precopyBytes: z.number().optional(),
    downtimeBytes: z.number().optional().describe('bytes sent while the guest was stopped'),
  })
  .describe(
    "the source's RAM counters from query-migrate at completion (how many dirty syncs it took, what was still sent while the guest was stopped); fields a QEMU does not report are absent (downtime-bytes and precopy-bytes exist since QEMU 7.1)",
  );
const ramStats = migrationRamStatsSchema;
export const negotiatedQueuePairsSchema = z
  .strictObject({
    host: z.string(),
    device: z.string(),
    queuePairs: z.number().nullable().describe('queue pairs the driver can use: max_vq_pairs with MQ negotiated, 1 without; null before a driver negotiated'),
    maxVqPairs: z.number().optional(),
    mq: z.boolean().nullable(),
  })
  .describe("the destination vDPA device's negotiated queue pairs (vdpa dev config show) after the migration (harness/lab/queue-pairs.ts)");
const settingsSide = z.strictObject({
  capabilities: z.record(z.string(), z.boolean()).describe('query-migrate-capabilities, by name'),
  parameters: z.record(z.string(), z.unknown()).describe('query-migrate-parameters as QEMU answered'),
});
export const migrationSettingsSchema = z
  .strictObject({ source: settingsSide, destination: settingsSide })
  .describe("the migration settings each QEMU used, read back after the variant's were set: QEMU's defaults included (harness/migration/settings.ts)");
const windowSide = z.strictObject({ fromUs: z.number().optional(), toUs: z.number().optional() });
export const traceRangeSchema = z.strictObject({
  bytes: z.tuple([z.number().int(), z.number().int()]).describe('[from, to): byte offsets of the part read'),
  lines: z.tuple([z.number().int(), z.number().int()]).describe('[first, last]: 1-based lines of the part read'),
  sha256: z.string().describe('SHA-256 of that part'),
});

/**
 * One migration as vdpa-bench writes it, and as the reader returns it once it has completed a
 * record from another lab (store.ts: seq, block and iteration from the file order, the rest from
 * fixed defaults): IterationRecord.
 */
export const recordedIterationSchema = z
  .strictObject({
    schema: z.literal(ITERATION_SCHEMA).optional().describe('format version; absent in records written before it existed'),
    seq: z.number().int().positive().describe('position in the run (1-based); default: the line number among records'),
    block: z.number().int().nonnegative().describe('guest boot this migration belongs to; default: consecutive records of one cell form a block'),
    variant: z.string().min(1),
    vmSize: z.string().min(1).describe('as written in the profile, e.g. "39G"'),
    queuePairs: z.number().int().positive().nullable().describe('queue pairs of the cell; null when the cell does not set them'),
    iteration: z.number().int().positive().describe('1-based within its cell, warm-ups counted separately'),
    warmup: z.boolean().describe('warm-ups are shown but left out of every statistic'),
    from: z.string().describe('source host'),
    to: z.string().describe('destination host'),
    status: z
      .enum(['ok', 'failed', 'invalid'])
      .describe('invalid: measured but not trustworthy (e.g. the guest was damaged); left out of statistics, shown at its value'),
    reason: z.string().optional(),
    downtimeMs: nullableMs.describe('the primary metric, ms; null unless status is ok'),
    primaryMetric: z.string().describe('name of the primary metric; default "downtimeMs"'),
    metrics: z.record(z.string(), nullableMs).describe('every metric by name, ms; null where it could not be computed (see metricErrors)'),
    metricErrors: z.record(z.string(), z.string()).optional().describe('why each null metric could not be computed'),
    metricAnchors: z.record(z.string(), z.strictObject({ start: anchor, end: anchor, fallback: z.boolean() })).optional(),
    qmp: z
      .strictObject({
        downtimeMs: nullableMs,
        totalTimeMs: nullableMs,
        setupTimeMs: nullableMs,
        ram: ramStats.optional(),
        port: z.number().int().optional().describe("the port the destination listened on: migration.port, or QEMU's pick when it is 0"),
      })
      .nullable()
      .describe("QEMU's own figures from query-migrate; null when the migration did not complete"),
    traces: z
      .strictObject({ source: z.string(), destination: z.string() })
      .describe('trace files this migration used, relative to the run directory (empty: not fetched)'),
    traceRanges: z
      .strictObject({ source: traceRangeSchema.optional(), destination: traceRangeSchema.optional() })
      .optional()
      .describe('the part of each trace file the metrics were computed from, and its SHA-256, for `vdpa-bench verify`; absent before vdpa-bench recorded it'),
    windows: z
      .strictObject({ source: windowSide, destination: windowSide })
      .optional()
      .describe("the part of each trace file that belongs to this migration, µs in that host's clock (from QMP event timestamps)"),
    clock: clockEstimate
      .extend({ before: clockEstimate.optional(), after: clockEstimate.optional() })
      .optional()
      .describe(
        'destination-minus-source clock offset applied to destination times; measured hosts carry the estimates made before and after the migration (the offset used is their midpoint); absent from labs that do not measure it',
      ),
    accel: z.string().describe('kvm or tcg'),
    destinationQmpReadyMs: nullableMs.describe('destination QEMU spawn → QMP greeting, ms (its QMP blackout at start-up)'),
    cycleMs: z.number().optional().describe('harness wall time for this migration cycle: destination start → source quit, ms'),
    migrationSpanMs: z
      .number()
      .optional()
      .describe(
        "source migrate (its MIGRATION setup event) to the destination's completed event, ms, from QMP timestamps (destination corrected by the clock offset); QMP's total-time stops when the source is done, which can be before a busy destination has loaded the last state and resumed",
      ),
    startedAt: z.string(),
    finishedAt: z.string(),
    unparsedTraceLines: z.strictObject({ source: z.number().int(), destination: z.number().int() }).optional(),
    negotiatedQueuePairs: negotiatedQueuePairsSchema.optional(),
    migrationSettings: migrationSettingsSchema.optional(),
    extra: recordExtraSchema.optional(),
  })
  .describe('One migration: one line of iterations.ndjson');

/**
 * A record as the reader accepts it (docs/schemas/iteration-record.schema.json): the recorded
 * format with everything but variant, vmSize and status optional, so records from another lab read.
 */
export const iterationRecordSchema = recordedIterationSchema
  .partial({
    seq: true,
    block: true,
    queuePairs: true,
    iteration: true,
    warmup: true,
    from: true,
    to: true,
    downtimeMs: true,
    primaryMetric: true,
    metrics: true,
    qmp: true,
    traces: true,
    accel: true,
    destinationQmpReadyMs: true,
    startedAt: true,
    finishedAt: true,
  })
  .describe('One migration: one line of iterations.ndjson');

export const variantFactsSchema = z.strictObject({
  name: z.string(),
  binary: z.string(),
  qemuVersion: z.record(z.string(), z.string()).describe('`qemu-system-x86_64 --version` first line, per host'),
  capabilities: z.record(z.string(), z.boolean()),
  parameters: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).describe('migrate-set-parameters the variant set'),
  extraArgs: z.array(z.string()),
  traceEvents: z.array(z.string()).optional(),
  traceEventsMissing: z.array(z.string()).optional().describe('trace events the profile asked for that this QEMU does not have'),
  debian: z
    .record(z.string(), z.strictObject({ suite: z.string(), root: z.string(), package: z.string(), version: z.string(), mirror: z.string() }))
    .optional()
    .describe('a qemu.debian variant: per host, the root filesystem and the exact qemu-system-x86 version'),
});

export const hostFactsSchema = z.strictObject({
  name: z.string(),
  transport: z.string(),
  kernel: z.string().optional(),
  cpuModel: z.string().optional(),
  cpus: z.number().optional(),
  memTotalKiB: z.number().optional(),
  kernelCmdline: z.string().optional(),
  biosVersion: z.string().optional(),
  biosDate: z.string().optional(),
  kvm: z
    .strictObject({ usable: z.boolean(), reason: z.string() })
    .optional()
    .describe('written by runs before accel.probes existed: a probe of the host PATH QEMU (when there was one)'),
  timeSync: timeSyncSchema.optional(),
  nicFirmware: z.string().optional().describe('recorded by vDPA labs that know it (see also lab.vdpaHosts)'),
  runsAs: z
    .strictObject({
      uid: z.number(),
      user: z.string(),
      sudoFrom: z.string().optional().describe('the login user sudo ran the commands for (transport sudo: true)'),
    })
    .optional()
    .describe("who the harness's commands ran as on the host (QEMU, tracers, files); absent in manifests written before it was recorded"),
});

export const cellStopSchema = z
  .strictObject({
    cell: z.string(),
    measured: z.number(),
    usable: z.number(),
    reason: z.enum(['precision-reached', 'max-iterations', 'fixed-count', 'block-abandoned', 'interrupted']),
    medianMs: nullableMs,
    ciHalfWidthPct: z.number().nullable().describe("half-width of the median's 95% confidence interval, % of the median"),
  })
  .describe("why a cell stopped taking measurements: adaptive sampling's decision or the fixed count");

const cell = z.strictObject({ variant: z.string(), vmSize: z.string(), queuePairs: z.number().nullable() });

export const runManifestSchema = z
  .strictObject({
    schema: z.literal(MANIFEST_SCHEMA).optional().describe('format version; absent in manifests written before it existed'),
    runId: z.string(),
    tool: z.strictObject({ name: z.literal('vdpa-bench'), version: z.string(), gitCommit: z.string().nullable() }),
    profile: z.strictObject({ path: z.string(), name: z.string(), sha256: z.string(), text: z.string() }),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    state: z.enum(['running', 'completed', 'interrupted', 'failed']),
    stateReason: z.string().optional(),
    command: z.array(z.string()),
    options: z.strictObject({
      iterations: z.number(),
      warmup: z.number(),
      vmSizes: z.array(z.string()),
      variants: z.array(z.string()),
      queuePairs: z.array(z.number().nullable()),
      design: z.string(),
      seed: z.number(),
      shard: z.string().optional(),
    }),
    accel: z.strictObject({
      requested: z.string().describe("the profile's vm.accel: auto, kvm or tcg"),
      used: z.string().describe('kvm or tcg: what the guests ran under (after a fallback, what they ran under from then on)'),
      reason: z.string().describe('why, in one sentence'),
      probes: z
        .array(
          z.strictObject({
            host: z.string(),
            variants: z.array(z.string()).describe('the variants that run this QEMU invocation'),
            qemu: z.string().describe('the QEMU invocation probed (BINARY, or BINARY in ROOT)'),
            verdict: z.enum(['usable', 'unusable', 'unknown']).describe('unknown: the probe could not tell; never taken for usable'),
            reason: z.string(),
          }),
        )
        .optional()
        .describe("the KVM probe per host and QEMU invocation: a firmware boot of the run's own QEMU with -accel kvm and the profile's CPU model and machine"),
      fallback: z
        .strictObject({
          at: z.string(),
          host: z.string(),
          seq: z.number().int().describe('the migration whose source was the first boot'),
          reason: z.string().describe("QEMU's stderr when it failed to start with KVM"),
        })
        .optional()
        .describe('accel auto: the first boot of the run failed with KVM, so the run switched to TCG (that attempt is not a migration)'),
    }),
    hosts: z.array(hostFactsSchema),
    variants: z.array(variantFactsSchema),
    metrics: z.strictObject({ primary: z.string(), names: z.array(z.string()) }),
    setup: z
      .strictObject({ nic: z.string().optional(), mode: z.string().optional(), queuePairs: z.array(z.number().nullable()).optional() })
      .optional()
      .describe('set-up sentence for reports: NIC, mode, queue pairs'),
    design: z.string().optional().describe('how migrations were ordered, as a sentence for reports (interleaving, seed, blocks)'),
    sampling: z
      .strictObject({
        mode: z.enum(['adaptive', 'fixed']),
        target: z.strictObject({ medianCiHalfWidthPct: z.number(), minIterations: z.number(), maxIterations: z.number() }).optional(),
        cells: z.array(cellStopSchema),
      })
      .optional(),
    pair: z.array(z.string()).optional().describe('the two hosts migrated between'),
    schedule: z.strictObject({ blocks: z.number(), migrations: z.number() }).optional(),
    abandonedCells: z.array(z.strictObject({ cell, reason: z.string(), afterSeq: z.number(), at: z.string() })).optional(),
    resumes: z
      .array(z.strictObject({ at: z.string(), command: z.array(z.string()), alreadyRecorded: z.number() }))
      .optional()
      .describe('each --resume of this run'),
    lab: labManifestSchema.optional(),
    labBox: labBoxFactsSchema.optional(),
    recovered: z
      .array(
        z.strictObject({
          host: z.string(),
          runId: z.string().nullable(),
          pid: z.number().nullable(),
          controller: z.string().optional(),
          processesEnded: z.array(z.number()),
        }),
      )
      .optional()
      .describe('runs whose lock this run took over because their harness was gone, and the QEMU processes of theirs it ended'),
    siteSetup: siteSetupSchema.optional(),
    mergedFrom: z
      .array(
        z.strictObject({
          runId: z.string(),
          dir: z.string(),
          shard: z.string().optional(),
          state: z.enum(['running', 'completed', 'interrupted', 'failed']),
          hosts: z.array(hostFactsSchema),
          variants: z.array(variantFactsSchema),
          fingerprint: z.string().describe("the shard's lab fingerprint (harness/results/fingerprint.ts)"),
        }),
      )
      .optional()
      .describe('the shards a merged run came from'),
  })
  .describe('One run: manifest.json');

/**
 * A manifest as the reader accepts it (docs/schemas/manifest.schema.json): every field optional,
 * so a lab can send as little as `{"compare": {...}}` or `{"runId": ..., "compare": ...}` and the
 * report shows the rest as unknown. `compare` names the pair to compare where no profile says it.
 */
export const manifestReadSchema = runManifestSchema
  .extend({
    tool: runManifestSchema.shape.tool.partial(),
    profile: runManifestSchema.shape.profile.partial(),
    compare: z
      .strictObject({ baseline: z.string().optional(), candidate: z.string().optional(), noiseThresholdPct: z.number().optional() })
      .optional()
      .describe("the pair to compare, for a lab that sends no profile (the profile's compare wins when both are there)"),
  })
  .partial()
  .describe('One run: manifest.json');

export type IterationRecordInput = z.input<typeof iterationRecordSchema>;

/**
 * Top-level fields a schema does not know, taken out of a value before validation so that they
 * are kept and named in a warning rather than refusing the record or manifest.
 */
export function splitUnknownFields(value: unknown, schema: { shape: Record<string, unknown> }): { known: unknown; unknown: Record<string, unknown> } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { known: value, unknown: {} };
  const known: Record<string, unknown> = {};
  const unknown: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) (key in schema.shape ? known : unknown)[key] = v;
  return { known, unknown };
}

/** The zod error as one line a lab engineer can act on: where, and what was wrong. */
export function describeIssues(error: z.ZodError, max = 3): string {
  const issues = error.issues.slice(0, max).map((i) => `${i.path.length ? i.path.join('.') : '(record)'}: ${i.message}`);
  return issues.join('; ') + (error.issues.length > max ? ` (and ${error.issues.length - max} more)` : '');
}

export function resultsJsonSchemas(): Record<string, unknown> {
  return {
    'iteration-record.schema.json': { title: 'vdpa-bench iteration record', ...z.toJSONSchema(iterationRecordSchema) },
    'manifest.schema.json': { title: 'vdpa-bench run manifest', ...z.toJSONSchema(manifestReadSchema) },
  };
}
