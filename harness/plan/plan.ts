/**
 * `vdpa-bench plan`: every command a run of the profile would execute, per host and in order,
 * without executing any. Built from the same functions the run uses (steps, checks, builds,
 * qemuArgs, the engine's QMP commands), shown the way each host's transport would run them.
 */
import { queuePairProblems } from '../lab/vdpa.ts';
import type { MatrixNarrowing } from '../run/selection.ts';
import type { LoadedProfile } from '../profile/load.ts';
import type { MigrationHooks } from '../migration/interfaces.ts';
import { PLAN_RUN_ID, planContext, type PlanContext, type PlanFacts } from './context.ts';
import { planTeardown } from './teardown.ts';
import { planHostPreparation } from './host-preparation.ts';
import { planMigrations } from './migrations.ts';

export interface PlanOptions extends MatrixNarrowing {
  /** What a run found out, in place of the placeholders (comparing a plan with a recorded run). */
  facts?: PlanFacts;
  /** Hooks a run is given beside the lab's (RunOptions.hooks): the plan launches through them too. */
  hooks?: readonly MigrationHooks[];
}

export async function planRun(loaded: LoadedProfile, options: PlanOptions = {}): Promise<string> {
  const out: string[] = [];
  const ctx = await planContext(loaded, options, (line = '') => out.push(line), options.facts);
  planHeader(ctx);
  for (const host of ctx.hosts) planHostPreparation(ctx, host);
  await planMigrations(ctx, options.hooks ?? []);
  planTeardown(ctx);
  await Promise.allSettled([...ctx.transports.values()].map((t) => t.close()));
  return out.join('\n') + '\n';
}
/** What is planned, the placeholders the plan uses, and what preflight will refuse; then the lab in a box's set-up. */
function planHeader({ loaded, profile, box, selection, blocks, vdpa, sweep, nameA, nameB, vdpaPairHosts, accel, say }: PlanContext): void {
  say(`# vdpa-bench plan: ${profile.name} (${loaded.file}, sha256 ${loaded.sha256.slice(0, 12)})`);
  say(`# Nothing here has been executed. Commands are shown as each host's transport would run them.`);
  say(
    `# ${blocks.length} VM boots, ${blocks.reduce((n, b) => n + b.migrations.length, 0)} migrations; pair ${nameA} <-> ${nameB}; accel ${accel}${profile.vm.accel === 'auto' ? " (auto: kvm when a KVM firmware boot of each variant's QEMU runs on both hosts, else tcg; a first boot that fails with kvm switches the run to tcg)" : ''}`,
  );
  say(`# ${PLAN_RUN_ID} is the run id chosen at start. In builds: COMMIT is the commit the ref resolves to, KEY the build's`);
  say(`# cache key (sha256 of commit + patch hashes + configure line), BUILD_RECORD.json what the manifest records of the build.`);
  if (sweep.length > 1)
    say(`# queue-pair sweep ${sweep.join(', ')}: devices are created with max_vqp ${sweep[0]} and re-created before each VM boot that needs another count.`);
  for (const problem of vdpa ? queuePairProblems(vdpaPairHosts, selection.queuePairs) : [])
    say(`# PREFLIGHT REFUSES THIS RUN before touching any host: ${problem}`);
  if (vdpa) say(`# /dev/vhost-vdpa-@NAME is the character device of vDPA device NAME, resolved after set-up; PREVIOUS in teardown is the state set-up found.`);

  if (box) {
    say();
    for (const line of box.lines) say(line);
  }
}
