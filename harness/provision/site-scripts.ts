/**
 * Site set-up as zx scripts: the things every lab has and no harness can anticipate (CPU
 * governor, IRQ affinity, firmware settings, isolcpus checks). A script is a .mjs module that
 * exports
 *
 *   check({ $, args, host })            → { satisfied, state, detail?, unavailable? }
 *   apply({ $, args, host, found })     changes the host (only called when not satisfied)
 *   undo({ $, args, host, previous })   puts back `previous`, the state check() found
 *
 * where `$` is zx bound to the host's transport (hosts/zx.ts). Like the vDPA steps: check,
 * apply when needed, check again; the ledger keeps what was found so teardown undoes exactly
 * what was applied, in reverse. `unavailable` says the host cannot have the setting at all (no
 * cpufreq in a VM): reported and recorded as such, never as done.
 */
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HostTransport } from '../hosts/transport.ts';
import { zxFor, type HostShell } from '../hosts/zx.ts';
import type { Profile } from '../profile/schema.ts';
import { ProvisionError, type ProvisionLedger } from './apply.ts';

export interface SiteState {
  satisfied: boolean;
  /** Kept in the ledger and handed back to undo (a string, or anything JSON can carry). */
  state: unknown;
  detail?: string;
  /** Set when this host cannot have the setting at all: why. */
  unavailable?: string;
}

export interface SiteContext {
  $: HostShell;
  args: readonly string[];
  host: string;
}

interface SiteModule {
  check(ctx: SiteContext): Promise<SiteState>;
  apply(ctx: SiteContext & { found: unknown }): Promise<void>;
  undo(ctx: SiteContext & { previous: unknown }): Promise<void>;
}

/** One script to run on one host: lab-wide ones first, then the host's own, in profile order. */
export interface PlannedSiteScript {
  host: string;
  /** Absolute path of the .mjs file. */
  path: string;
  args: string[];
  from: 'setup' | `hosts.${string}.setup`;
}

export interface SiteOutcome {
  host: string;
  script: string;
  args: string[];
  action: 'already-in-place' | 'applied' | 'unavailable';
  before: string;
  after?: string;
}

export function siteScriptsFor(profile: Profile, profileFile: string, hostNames: readonly string[]): PlannedSiteScript[] {
  const base = dirname(resolve(profileFile));
  const out: PlannedSiteScript[] = [];
  for (const name of [...new Set(hostNames)]) {
    const host = profile.hosts.find((h) => h.name === name);
    for (const s of profile.setup) out.push({ host: name, path: resolve(base, s.script), args: s.args, from: 'setup' });
    for (const s of host?.setup ?? []) out.push({ host: name, path: resolve(base, s.script), args: s.args, from: `hosts.${name}.setup` });
  }
  return out;
}

export async function loadSiteScript(path: string): Promise<SiteModule> {
  let module: Partial<SiteModule>;
  try {
    module = (await import(pathToFileURL(path).href)) as Partial<SiteModule>;
  } catch (error) {
    throw new Error(`site script ${path}: cannot load it: ${(error as Error).message}`);
  }
  const missing = (['check', 'apply', 'undo'] as const).filter((f) => typeof module[f] !== 'function');
  if (missing.length > 0) throw new Error(`site script ${path}: it must export ${missing.join(', ')} (async functions)`);
  return module as SiteModule;
}

function stepId(s: PlannedSiteScript): string {
  return `site:${s.path}:${JSON.stringify(s.args)}`;
}

function title(s: PlannedSiteScript): string {
  return `site script ${s.path}${s.args.length ? ` ${JSON.stringify(s.args)}` : ''}`;
}

const describeState = (found: SiteState) => found.detail ?? (typeof found.state === 'string' ? found.state : JSON.stringify(found.state));

async function checked(module: SiteModule, ctx: SiteContext, s: PlannedSiteScript): Promise<SiteState> {
  const found = await module.check(ctx);
  if (!found || typeof found.satisfied !== 'boolean') throw new ProvisionError(s.host, title(s), 'check() must return { satisfied, state }');
  return found;
}

export async function applySiteScripts(
  transports: ReadonlyMap<string, HostTransport>,
  scripts: readonly PlannedSiteScript[],
  ledger: ProvisionLedger,
  log: (line: string) => void,
): Promise<SiteOutcome[]> {
  const outcomes: SiteOutcome[] = [];
  for (const s of scripts) {
    const module = await loadSiteScript(s.path);
    const ctx: SiteContext = { $: zxFor(transports.get(s.host)!), args: s.args, host: s.host };
    const outcome = { host: s.host, script: s.path, args: s.args };
    try {
      const found = await checked(module, ctx, s);
      if (found.unavailable) {
        outcomes.push({ ...outcome, action: 'unavailable', before: found.unavailable });
        log(`${s.host}: ${title(s)}: NOT APPLIED, not available on this host: ${found.unavailable}`);
        continue;
      }
      if (found.satisfied) {
        outcomes.push({ ...outcome, action: 'already-in-place', before: describeState(found) });
        log(`${s.host}: ${title(s)}: already in place (${describeState(found)})`);
        continue;
      }
      // recorded before applying: a half-applied script must still be undone
      ledger.record({ host: s.host, step: stepId(s), title: title(s), previousState: JSON.stringify(found.state), appliedAt: new Date().toISOString() });
      await module.apply({ ...ctx, found: found.state });
      const after = await checked(module, ctx, s);
      if (!after.satisfied) throw new Error(`still not in place after apply (${describeState(after)})`);
      outcomes.push({ ...outcome, action: 'applied', before: describeState(found), after: describeState(after) });
      log(`${s.host}: ${title(s)}: done (was ${describeState(found)})`);
    } catch (error) {
      throw error instanceof ProvisionError ? error : new ProvisionError(s.host, title(s), (error as Error).message);
    }
  }
  return outcomes;
}

/** Undoes, in reverse, what applySiteScripts applied; keeps going and returns what could not be undone. */
export async function undoSiteScripts(
  transports: ReadonlyMap<string, HostTransport>,
  scripts: readonly PlannedSiteScript[],
  ledger: ProvisionLedger,
): Promise<string[]> {
  const problems: string[] = [];
  const byId = new Map(scripts.map((s) => [`${s.host}|${stepId(s)}`, s]));
  for (const entry of [...ledger.entries].reverse()) {
    const s = byId.get(`${entry.host}|${entry.step}`);
    if (!s) continue;
    try {
      const module = await loadSiteScript(s.path);
      await module.undo({ $: zxFor(transports.get(s.host)!), args: s.args, host: s.host, previous: JSON.parse(entry.previousState) });
    } catch (error) {
      problems.push(`${s.host}: ${entry.title}: undo failed: ${(error as Error).message}`);
    }
  }
  return problems;
}

/** For `plan`: each script with its arguments and source, and what it will be asked to do. */
export function describeSiteScripts(scripts: readonly PlannedSiteScript[], host: string, transport: HostTransport): string[] {
  const mine = scripts.filter((s) => s.host === host);
  if (mine.length === 0) return [];
  const lines = [
    `# zx, each command run as ${transport.describe(['bash', '-c', 'COMMAND'])} (arguments quoted by zx); check(), then apply() only when not in place, check() again; undo() at teardown`,
  ];
  for (const s of mine) lines.push(`site script ${s.path} args ${JSON.stringify(s.args)}  # from ${s.from}`);
  return lines;
}
