/** The teardown section of `vdpa-bench plan`: what a run undoes and removes on each host, in order. */
import { describeCommand } from '../hosts/command.ts';
import { hostSetupSteps, type VdpaHost } from '../lab/vdpa.ts';
import { queuePairStep } from '../provision/steps.ts';
import { removeRunDirectory } from '../migration/run-directory.ts';
import { planEngineHost, type PlanContext } from './context.ts';

/** Teardown per host: site scripts undone, files brought home, the run directory removed, set-up undone in reverse; then the lab in a box. */
export function planTeardown(ctx: PlanContext): void {
  const { profile, hosts, transports, site, vdpa, sweep, queuePairs, box, say } = ctx;
  say();
  say(`== teardown ==`);
  for (const host of hosts) {
    const t = transports.get(host.name)!;
    for (const s of [...site].reverse().filter((x) => x.host === host.name))
      say(`# undo() of site script ${s.path} args ${JSON.stringify(s.args)}, when its apply() ran: back to what its check() found`);
    const eh = planEngineHost(ctx, host.name);
    say(`## host ${host.name}`);
    say(`# console and stderr files come home, then the host's run directory goes`);
    say(describeCommand(t, { kind: 'argv', argv: ['find', eh.runDir, '-type', 'f', '(', '-path', '*/console/*', '-o', '-path', '*/stderr/*', ')'] }));
    say(describeCommand(t, removeRunDirectory(t, eh.runDir)));
    if (!vdpa || !host.vdpa) continue;
    say(`# undo, in reverse, only the set-up steps this run applied (restoring the state it found)`);
    if (sweep.length > 1) {
      for (const d of host.vdpa.devices)
        for (const c of queuePairStep(d, host.vdpa.managementDevice, host.vdpa.driver, sweep[0]).undo(undefined))
          say(`undo vDPA device ${d.name} re-created per cell: ${describeCommand(t, c)}`);
    }
    for (const s of [...hostSetupSteps(host as VdpaHost, profile, queuePairs)].reverse()) {
      for (const c of s.undo(undefined)) say(`undo ${s.title}: ${describeCommand(t, c)}`);
    }
  }
  if (box && box.teardown.length > 0) {
    say(`## lab in a box`);
    for (const line of box.teardown) say(line);
  }
}
