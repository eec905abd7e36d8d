/** Records vdpa vs vdpa-ready on every migration that has both, and says so when they differ. */
import { describeReadyGap, readyGap } from '../metrics/ready-gap.ts';
import type { MigrationHooks } from './interfaces.ts';

export function readyGapHook(tolerancePct: number, note?: (message: string) => void): MigrationHooks {
  return {
    async afterMigration({ planned, record }) {
      const gap = readyGap(record.metrics, tolerancePct);
      if (!gap) return;
      if (gap.flagged) note?.(`migration ${planned.seq}: ${describeReadyGap(gap)}`);
      return { parts: { vdpaReadyGap: gap } };
    },
  };
}
