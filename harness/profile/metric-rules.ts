/**
 * The downtime metrics a profile can name: the rule type (the profile schema's, so a custom rule
 * and a built-in one are the same thing) and the built-in rules. harness/metrics/rules.ts applies
 * them to traces.
 */
import type { MetricRule } from './schema.ts';

/** One end of a rule: candidate events and how they combine (first-available: fallbacks in order; latest: the latest present). */
export type Endpoint = MetricRule['start'];
/** A trace event, optionally narrowed by a regular expression over its formatted arguments. */
export type EventMatcher = Endpoint['candidates'][number];

const VRING_ENABLED: EventMatcher = { event: 'vhost_vdpa_set_vring_enable_one', match: '\\benable: 1\\b' };
/** vhost_vdpa_add_status prints `status: 0x%x`; DRIVER_OK is bit 0x4. */
const DRIVER_OK: EventMatcher = { event: 'vhost_vdpa_add_status', match: 'status: 0x[0-9a-fA-F]*[4567cdefCDEF]$' };

export const BUILTIN_METRICS = {
  runstate: {
    description: 'Source runstate -> finish-migrate to destination inmigrate -> running (any QEMU, incl. 7.2)',
    start: { candidates: [{ event: 'runstate_set', match: 'new_state \\d+ \\(finish-migrate\\)' }], combine: 'first-available' },
    end: { candidates: [{ event: 'runstate_set', match: '\\(inmigrate\\) new_state \\d+ \\(running\\)' }], combine: 'first-available' },
  },
  checkpoint: {
    description: 'QEMU >= 8.2 downtime checkpoints: src-downtime-start to dst-precopy-bh-vm-started',
    start: { candidates: [{ event: 'vmstate_downtime_checkpoint', match: '^src-downtime-start$' }], combine: 'first-available' },
    end: { candidates: [{ event: 'vmstate_downtime_checkpoint', match: '^dst-precopy-bh-vm-started$' }], combine: 'first-available' },
  },
  vdpa: {
    description: 'The seed: last vhost_vdpa_suspend on the source to last vring enable on the destination',
    start: { candidates: [{ event: 'vhost_vdpa_suspend' }, { event: 'vhost_vdpa_reset_device' }], combine: 'first-available' },
    end: { candidates: [VRING_ENABLED, { event: 'vhost_vdpa_set_vring_ready' }], combine: 'first-available' },
  },
  'vdpa-ready': {
    description: 'As vdpa, but ends at the later of the last vring enable and the last DRIVER_OK on the destination',
    start: { candidates: [{ event: 'vhost_vdpa_suspend' }, { event: 'vhost_vdpa_reset_device' }], combine: 'first-available' },
    end: { candidates: [VRING_ENABLED, { event: 'vhost_vdpa_set_vring_ready' }, DRIVER_OK], combine: 'latest' },
  },
} satisfies Record<string, MetricRule>;

export type BuiltinMetric = keyof typeof BUILTIN_METRICS;
