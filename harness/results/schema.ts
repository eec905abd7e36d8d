/**
 * The results format as zod schemas: what `run` writes and what `report`, `compare`, `nightly`,
 * `merge` and `--resume` read. The same schemas validate on read and export the JSON Schema files
 * other labs write against (docs/schemas/, `npm run build:results-schema`). Records from another
 * lab need only variant, vmSize and status (and downtimeMs to be useful): seq defaults to the file
 * order, and without a manifest downtimeMs is the primary metric.
 */
import { z } from 'zod';

export const ITERATION_SCHEMA = 'vdpa-bench/iteration@1';
export const MANIFEST_SCHEMA = 'vdpa-bench/manifest@1';

const ms = z.number().describe('milliseconds');
const nullableMs = ms.nullable();
const anchor = z.strictObject({ event: z.string(), timeUs: z.number(), line: z.number().int() });
const clockEstimate = z.strictObject({
  offsetUs: z.number().describe('destination-minus-source clock offset applied to destination times, µs'),
  uncertaintyUs: z.number().nonnegative(),
  method: z.string(),
  roundTripUs: z.strictObject({ from: z.number(), to: z.number() }).optional(),
});
const ramStats = z.strictObject({
  transferredBytes: z.number().optional(),
  normalPages: z.number().optional(),
  zeroPages: z.number().optional(),
  dirtySyncCount: z.number().optional(),
  mbps: z.number().optional(),
  precopyBytes: z.number().optional(),
  downtimeBytes: z.number().optional().describe('bytes sent while the guest was stopped'),
});
const windowSide = z.strictObject({ fromUs: z.number().optional(), toUs: z.number().optional() });

export const iterationRecordSchema = z
  .strictObject({
    schema: z.literal(ITERATION_SCHEMA).optional().describe('format version; absent in records written before it existed'),
    seq: z.number().int().positive().optional().describe('position in the run (1-based); default: the line number among records'),
    block: z.number().int().nonnegative().optional().describe('guest boot this migration belongs to; default: consecutive records of one cell form a block'),
    variant: z.string().min(1),
    vmSize: z.string().min(1).describe('as written in the profile, e.g. "39G"'),
    queuePairs: z.number().int().positive().nullable().optional(),
    iteration: z.number().int().positive().optional().describe('1-based within its cell, warm-ups counted separately'),
    warmup: z.boolean().optional().describe('warm-ups are shown but left out of every statistic'),
    from: z.string().optional(),
    to: z.string().optional(),
    status: z
      .enum(['ok', 'failed', 'invalid'])
      .describe('invalid: measured but not trustworthy (e.g. the guest was damaged); left out of statistics, shown at its value'),
    reason: z.string().optional(),
    downtimeMs: nullableMs.optional().describe('the primary metric, ms; null unless status is ok'),
    primaryMetric: z.string().optional().describe('name of the primary metric; default "downtimeMs"'),
    metrics: z.record(z.string(), nullableMs).optional().describe('every metric by name, ms'),
    metricErrors: z.record(z.string(), z.string()).optional(),
    metricAnchors: z.record(z.string(), z.strictObject({ start: anchor, end: anchor, fallback: z.boolean() })).optional(),
    qmp: z.strictObject({ downtimeMs: nullableMs, totalTimeMs: nullableMs, setupTimeMs: nullableMs, ram: ramStats.optional() }).nullable().optional(),
    traces: z.strictObject({ source: z.string(), destination: z.string() }).optional(),
    windows: z.strictObject({ source: windowSide, destination: windowSide }).optional(),
    clock: clockEstimate.extend({ before: clockEstimate.optional(), after: clockEstimate.optional() }).optional(),
    accel: z.string().optional(),
    destinationQmpReadyMs: nullableMs.optional(),
    cycleMs: z.number().optional(),
    migrationSpanMs: z.number().optional(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
    unparsedTraceLines: z.strictObject({ source: z.number().int(), destination: z.number().int() }).optional(),
    negotiatedQueuePairs: z
      .strictObject({ host: z.string(), device: z.string(), queuePairs: z.number().nullable(), maxVqPairs: z.number().optional(), mq: z.boolean().nullable() })
      .optional()
      .describe("the destination vDPA device's negotiated queue pairs (vdpa dev config show) after the migration"),
    extra: z.record(z.string(), z.unknown()).optional().describe('lab extras by name (phases, network, integrity)'),
  })
  .describe('One migration: one line of iterations.ndjson');

const variantFacts = z.strictObject({
  name: z.string(),
  binary: z.string(),
  qemuVersion: z.record(z.string(), z.string()),
  capabilities: z.record(z.string(), z.boolean()),
  parameters: z.record(z.string(), z.unknown()),
  extraArgs: z.array(z.string()),
  traceEvents: z.array(z.string()).optional(),
  traceEventsMissing: z.array(z.string()).optional(),
  debian: z
    .record(z.string(), z.strictObject({ suite: z.string(), root: z.string(), package: z.string(), version: z.string(), mirror: z.string() }))
    .optional()
    .describe('a qemu.debian variant: per host, the root filesystem and the exact qemu-system-x86 version'),
});

const hostFacts = z.strictObject({
  name: z.string(),
  transport: z.string(),
  kernel: z.string().optional(),
  cpuModel: z.string().optional(),
  cpus: z.number().optional(),
  memTotalKiB: z.number().optional(),
  kernelCmdline: z.string().optional(),
  biosVersion: z.string().optional(),
  biosDate: z.string().optional(),
  kvm: z.strictObject({ usable: z.boolean(), reason: z.string() }).optional(),
  timeSync: z.record(z.string(), z.unknown()).optional(),
  nicFirmware: z.string().optional(),
});

const cellStop = z.strictObject({
  cell: z.string(),
  measured: z.number(),
  usable: z.number(),
  reason: z.enum(['precision-reached', 'max-iterations', 'fixed-count', 'block-abandoned', 'interrupted']),
  medianMs: nullableMs,
  ciHalfWidthPct: z.number().nullable(),
});

const cell = z.strictObject({ variant: z.string(), vmSize: z.string(), queuePairs: z.number().nullable() });

export const runManifestSchema = z
  .strictObject({
    schema: z.literal(MANIFEST_SCHEMA).optional(),
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
    accel: z.strictObject({ requested: z.string(), used: z.string(), reason: z.string() }),
    hosts: z.array(hostFacts),
    variants: z.array(variantFacts),
    metrics: z.strictObject({ primary: z.string(), names: z.array(z.string()) }),
    setup: z.strictObject({ nic: z.string().optional(), mode: z.string().optional(), queuePairs: z.array(z.number().nullable()).optional() }).optional(),
    design: z.string().optional(),
    sampling: z
      .strictObject({
        mode: z.enum(['adaptive', 'fixed']),
        target: z.strictObject({ medianCiHalfWidthPct: z.number(), minIterations: z.number(), maxIterations: z.number() }).optional(),
        cells: z.array(cellStop),
      })
      .optional(),
    pair: z.array(z.string()).optional().describe('the two hosts migrated between'),
    schedule: z.strictObject({ blocks: z.number(), migrations: z.number() }).optional(),
    abandonedCells: z.array(z.strictObject({ cell, reason: z.string(), afterSeq: z.number(), at: z.string() })).optional(),
    resumes: z
      .array(z.strictObject({ at: z.string(), command: z.array(z.string()), alreadyRecorded: z.number() }))
      .optional()
      .describe('each --resume of this run'),
    lab: z.record(z.string(), z.unknown()).optional().describe('vDPA lab facts (harness/lab/prepare.ts)'),
    labBox: z.record(z.string(), z.unknown()).optional().describe('lab-in-a-box facts: guest build, namespaces'),
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
    siteSetup: z.record(z.string(), z.unknown()).optional().describe('zx site scripts: what each found, applied and undid'),
    mergedFrom: z.array(z.record(z.string(), z.unknown())).optional().describe('the shards a merged run came from'),
  })
  .describe('One run: manifest.json');

export type IterationRecordInput = z.infer<typeof iterationRecordSchema>;
export type RunManifestData = z.infer<typeof runManifestSchema>;

/** The zod error as one line a lab engineer can act on: where, and what was wrong. */
export function describeIssues(error: z.ZodError, max = 3): string {
  const issues = error.issues.slice(0, max).map((i) => `${i.path.length ? i.path.join('.') : '(record)'}: ${i.message}`);
  return issues.join('; ') + (error.issues.length > max ? ` (and ${error.issues.length - max} more)` : '');
}

export function resultsJsonSchemas(): Record<string, unknown> {
  return {
    'iteration-record.schema.json': { title: 'vdpa-bench iteration record', ...z.toJSONSchema(iterationRecordSchema) },
    'manifest.schema.json': { title: 'vdpa-bench run manifest', ...z.toJSONSchema(runManifestSchema) },
  };
}
