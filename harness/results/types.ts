/**
 * The results contract: what `run` writes and what `report`, `compare` and `nightly` read. Every
 * type here is derived from the zod schemas in schema.ts (the one description of the format, which
 * also validates on read and exports docs/schemas/). The schemas have no transforms or defaults,
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
  recordedIterationSchema,
  runManifestSchema,
  variantFactsSchema,
} from './schema.ts';

export type IterationRecord = z.output<typeof recordedIterationSchema>;
export type IterationStatus = IterationRecord['status'];
export type MetricAnchorRecord = z.output<typeof metricAnchorSchema>;
export type ClockEstimate = z.output<typeof clockEstimateSchema>;
export type MigrationRamStats = z.output<typeof migrationRamStatsSchema>;

export type RunManifest = z.output<typeof runManifestSchema>;
/** A manifest as read: what another lab sent, every field possibly missing (report shows those as unknown). */
export type ManifestRead = z.output<typeof manifestReadSchema>;
export type HostFacts = z.output<typeof hostFactsSchema>;
export type VariantFacts = z.output<typeof variantFactsSchema>;
export type CellStopRecord = z.output<typeof cellStopSchema>;
