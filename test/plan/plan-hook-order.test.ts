/**
 * `plan` shows what the hooks do before `migrate` in the order the run does it: the run's hook
 * list (runHooks, as run.ts builds it, with the lab's hooks and waits) against the lines the plan
 * prints between the destination's start and the migration settings. A plan that printed the
 * steps in an order of its own, or left out a hook that acts before `migrate`, fails here.
 */
import test from 'ava';
import { LocalTransport } from '../../harness/hosts/local.ts';
import { labLaunchHooks } from '../../harness/lab/launch-hooks.ts';
import type { VdpaHost } from '../../harness/lab/vdpa.ts';
import type { EngineHost, MigrationHooks } from '../../harness/migration/interfaces.ts';
import { planRun } from '../../harness/plan/plan.ts';
import { loadProfile, pairHosts } from '../../harness/profile/load.ts';
import type { Profile } from '../../harness/profile/schema.ts';
import { runHooks } from '../../harness/run/hooks.ts';
import { scheduleFor, selectMatrix } from '../../harness/run/selection.ts';

/** What a before-migration line is about; null for lines no hook prints. */
function kindOf(line: string): string | null {
  if (/QEMU: (guest RAM|emulator thread|vCPU threads|placement recorded)/.test(line)) return 'numa';
  if (/locked-memory limit for the record/.test(line)) return 'memlock';
  if (/DRIVER_OK/.test(line)) return 'driver-ok';
  if (/negotiated \d+ queue pairs \(extra\.queuePairWait\)/.test(line)) return 'queue-pairs';
  if (/vb-ready|start the probe/.test(line)) return 'lab-box';
  return null;
}

const NARROWING = { vmSizes: ['39G'], variants: ['before'], iterations: 1, warmup: 0 };

const collapse = (kinds: (string | null)[]) => kinds.filter((k, i): k is string => k !== null && k !== kinds[i - 1]);

/** The lines of the plan's first migration between the destination's start and the first migration setting. */
function planBeforeMigrate(plan: string): string[] {
  const lines = plan.split('\n');
  const first = lines.findIndex((l) => l.startsWith('# migration 1:'));
  const start = lines.findIndex((l, i) => i > first && / start destination/.test(l));
  const settings = lines.findIndex((l, i) => i > start && /QMP source: \{"execute":"migrate-set-(capabilities|parameters)"/.test(l));
  return lines.slice(start + 1, settings);
}

/** The run's hooks for a profile, as run.ts composes them (lab launch hooks and waits, the profile's own), and their kinds in order. */
function runOrder(profile: Profile, extra: readonly MigrationHooks[] = []): { kinds: string[]; undescribed: number } {
  const [nameA, nameB] = pairHosts(profile);
  const vdpaHosts = profile.hosts.filter((h): h is VdpaHost => !!h.vdpa);
  const lab = labLaunchHooks({
    binaryOn: new Map(),
    rootOn: new Map(),
    vdpa: { devicePaths: new Map(), sameHost: nameA === nameB, hosts: vdpaHosts, guestKind: profile.vm.guest.kind },
  });
  const hooks = runHooks({ profile, pair: [nameA, nameB], metricNames: [], note: () => undefined, lab: lab.hooks, labWaits: lab.waits, extra });
  const planned = scheduleFor(profile, selectMatrix(profile, NARROWING))[0].migrations[0];
  const host = (name: string): EngineHost => ({ name, transport: new LocalTransport(name), runDir: '/run', migrationAddress: '10.0.0.1' });
  const ctx = { planned, from: host(nameA), to: host(nameB), variant: profile.variants[0], vm: profile.vm };
  const acting = hooks.filter((h) => h.beforeMigration);
  return {
    kinds: collapse(acting.flatMap((h) => (h.describeBeforeMigration?.(ctx) ?? []).map(kindOf))),
    undescribed: acting.filter((h) => !h.describeBeforeMigration).length,
  };
}

test('cx6dx-lab: the plan shows NUMA placement, the memlock read-back, the DRIVER_OK wait and the queue-pair wait in the run hooks’ order', async (t) => {
  const loaded = await loadProfile('profiles/cx6dx-lab.yaml');
  const run = runOrder(loaded.profile);
  t.is(run.undescribed, 0, 'every hook that acts before migrate describes itself');
  // the order the design asks for: threads placed before the guest's driver is waited for, queues after the driver is up
  t.deepEqual(run.kinds, ['numa', 'memlock', 'driver-ok', 'queue-pairs']);
  const plan = await planRun(loaded, NARROWING);
  t.deepEqual(collapse(planBeforeMigrate(plan).map(kindOf)), run.kinds);
});

test('a hook the run is given that acts before migrate without describing itself is caught; one that describes itself is planned in its place', async (t) => {
  const loaded = await loadProfile('profiles/cx6dx-lab.yaml');
  const silent: MigrationHooks = { beforeMigration: async () => undefined };
  t.is(runOrder(loaded.profile, [silent]).undescribed, 1);
  // the caller's hooks come before the profile's (run/hooks.ts): the plan prints it first
  const described: MigrationHooks = {
    beforeMigration: async () => undefined,
    describeBeforeMigration: () => ['# before migration: wait for vb-ready (the caller’s)'],
  };
  const plan = await planRun(loaded, { vmSizes: ['39G'], variants: ['before'], iterations: 1, warmup: 0, hooks: [described] });
  t.deepEqual(collapse(planBeforeMigrate(plan).map(kindOf)), ['lab-box', 'numa', 'memlock', 'driver-ok', 'queue-pairs']);
});
