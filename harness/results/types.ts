/**
 * The results contract: what `run` writes and what `report`, `compare` and `nightly` read. Every
 * type here is derived from the zod schemas in schema.ts, record-parts.ts and manifest-parts.ts (the
 * one description
 * of the format, which also validates on read and exports docs/schemas/). The schemas have no transforms or defaults,
 * so input and output types are the same; output is named because these are what the harness
 * holds in memory: what the writer builds and what the reader returns once it has completed a
 * record (store.ts).
 */
import type { z } from 'zod';
import type {
  cellStopSchema,
  clockEstimateSchema,
  hostFactsSchema,
  manifestReadSchema,
  metricAnchorSchema,
  migrationRamStatsSchema,
  negotiatedQueuePairsSchema,
  migrationSettingsSchema,
  recordedIterationSchema,
  runManifestSchema,
  variantFactsSchema,
} from './schema.ts';
import type { labBoxFactsSchema, labManifestSchema, siteSetupSchema, timeSyncSchema } from './manifest-parts.ts';
import type {
  downtimeAttributionSchema,
  downtimePhasesSchema,
  guestDevicePartSchema,
  integrityPartSchema,
  networkDowntimeSchema,
  networkPartSchema,
  readyGapSchema,
  memlockPartSchema,
  queuePairWaitSchema,
  numaPartSchema,
  recordedPhasesSchema,
  recordPartsSchema,
  sourceDeviceSchema,
  startupPartSchema,
  vdpaPhasesSchema,
} from './record-parts.ts';

export type IterationRecord = z.output<typeof recordedIterationSchema>;
export type IterationStatus = IterationRecord['status'];
export type MetricAnchorRecord = z.output<typeof metricAnchorSchema>;
export type ClockEstimate = z.output<typeof clockEstimateSchema>;
export type MigrationRamStats = z.output<typeof migrationRamStatsSchema>;
export type NegotiatedQueuePairs = z.output<typeof negotiatedQueuePairsSchema>;
export type MigrationSettings = z.output<typeof migrationSettingsSchema>;

/** The typed parts of record.extra (record-parts.ts), each written by one lab feature. */
export type RecordParts = z.output<typeof recordPartsSchema>;
export type VdpaPhases = z.output<typeof vdpaPhasesSchema>;
export type RecordedPhases = z.output<typeof recordedPhasesSchema>;
export type DowntimePhases = z.output<typeof downtimePhasesSchema>;
export type DowntimeAttribution = z.output<typeof downtimeAttributionSchema>;
export type StartupPart = z.output<typeof startupPartSchema>;
export type NetworkDowntime = z.output<typeof networkDowntimeSchema>;
export type NetworkPart = z.output<typeof networkPartSchema>;
export type IntegrityPart = z.output<typeof integrityPartSchema>;
export type SourceDeviceRecord = z.output<typeof sourceDeviceSchema>;
export type GuestDevicePart = z.output<typeof guestDevicePartSchema>;
export type ReadyGap = z.output<typeof readyGapSchema>;
export type MemlockPart = z.output<typeof memlockPartSchema>;
export type QueuePairWait = z.output<typeof queuePairWaitSchema>;
export type NumaPart = z.output<typeof numaPartSchema>;

export type RunManifest = z.output<typeof runManifestSchema>;
/** A manifest as read: what another lab sent, every field possibly missing (report shows those as unknown). */
export type ManifestRead = z.output<typeof manifestReadSchema>;
export type HostFacts = z.output<typeof hostFactsSchema>;
export type VariantFacts = z.output<typeof variantFactsSchema>;
export type CellStopRecord = z.output<typeof cellStopSchema>;

/** The typed parts of a manifest (manifest-parts.ts) that labs fill in. */
export type LabFacts = z.output<typeof labManifestSchema>;
export type LabBoxFacts = z.output<typeof labBoxFactsSchema>;
export type SiteSetupFacts = z.output<typeof siteSetupSchema>;
export type TimeSyncFacts = z.output<typeof timeSyncSchema>;
