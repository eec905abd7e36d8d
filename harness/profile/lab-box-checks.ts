/**
 * What a lab-in-a-box profile must agree on that the schema cannot say (pure): the built guest's
 * workload fits its memory, a network lab has the guest, NIC and hosts it needs. Found at load
 * time, so they print as file:line:col like any other profile problem, before anything is built.
 */
import { guestKernelCmdline, guestTmpfsBytes } from './guest-cmdline.ts';
import type { BuiltinLinuxGuest, Profile } from './schema.ts';
import { parseSize } from './size.ts';

type Problem = { path: (string | number)[]; message: string };

/** Whether a run of this profile builds the Linux guest (and, with `network`, the namespaced lab). */
export function needsLabBox(profile: Profile): boolean {
  return profile.vm.guest.kind === 'builtin-linux' || profile.network !== undefined;
}

/** Kernel, initramfs and the guest's own processes, measured at ~70 MiB used after boot; with room. */
const GUEST_BASE_BYTES = 128 * 1024 * 1024;

function cmdlineProblem(guest: BuiltinLinuxGuest, at: (string | number)[]): Problem | undefined {
  try {
    guestKernelCmdline(guest);
    return undefined;
  } catch (error) {
    const message = (error as Error).message;
    return { path: message.startsWith('integrity.') ? [...at.slice(0, -1), 'integrity'] : at, message };
  }
}

export function checkLabBox(profile: Profile, pair: [string, string]): Problem[] {
  const problems: Problem[] = [];
  const guest = profile.vm.guest;
  const pairIndexes = pair.map((name) => profile.hosts.findIndex((h) => h.name === name)).filter((i) => i >= 0);
  if (guest.kind === 'builtin-linux') {
    const own = cmdlineProblem(guest, ['vm', 'guest', 'workload']);
    if (own) problems.push(own);
    const workloads: { guest: BuiltinLinuxGuest; name: string }[] = own ? [] : [{ guest, name: 'vm.guest.workload' }];
    profile.variants.forEach((v, i) => {
      if (!v.workload) return;
      const variantGuest = { ...guest, workload: v.workload };
      const problem = cmdlineProblem(variantGuest, ['variants', i, 'workload']);
      if (problem) problems.push(problem);
      else workloads.push({ guest: variantGuest, name: `variant ${v.name}'s workload` });
    });
    for (const [i, size] of profile.matrix.vmSizes.entries()) {
      const bytes = parseSize(size);
      for (const w of workloads) {
        const needed = GUEST_BASE_BYTES + guestTmpfsBytes(w.guest);
        if (bytes < needed) {
          problems.push({
            path: ['matrix', 'vmSizes', i],
            message: `a ${size} guest cannot hold ${w.name}: its tmpfs buffers take ${mib(guestTmpfsBytes(w.guest))} and the guest itself ~${mib(GUEST_BASE_BYTES)}; give at least ${mib(needed)}`,
          });
          break;
        }
      }
    }
    for (const i of pairIndexes) {
      if (profile.hosts[i].transport.kind === 'ssh')
        problems.push({
          path: ['hosts', i, 'transport', 'kind'],
          message: 'the builtin-linux guest is built on this machine, so its hosts must be local or netns (ssh hosts are not supported yet)',
        });
    }
  }
  if (profile.network) {
    if (guest.kind !== 'builtin-linux')
      problems.push({
        path: ['vm', 'guest', 'kind'],
        message: `network: ${profile.network.kind} needs vm.guest.kind: builtin-linux (the guest must answer the probe on a known address)`,
      });
    if (profile.vm.nic.kind !== 'tap')
      problems.push({
        path: ['vm', 'nic', 'kind'],
        message: `network: ${profile.network.kind} needs vm.nic.kind: tap (the guest NIC sits on a tap in each host namespace)`,
      });
    for (const i of pairIndexes) {
      if (profile.hosts[i].transport.kind !== 'netns')
        problems.push({
          path: ['hosts', i, 'transport', 'kind'],
          message: `network: ${profile.network.kind} needs transport {kind: netns} on both hosts of the pair`,
        });
    }
    if (pair[0] === pair[1]) problems.push({ path: ['network'], message: `network: ${profile.network.kind} needs two distinct hosts in the pair` });
  }
  return problems;
}

const mib = (bytes: number) => `${Math.ceil(bytes / (1024 * 1024))}M`;
