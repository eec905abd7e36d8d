/**
 * Runs set-up steps against a host and records what the harness changed, so teardown undoes
 * exactly that (in reverse) and nothing the lab had before.
 */
import type { HostTransport } from '../hosts/transport.ts';
import { runCommand } from '../hosts/command.ts';
import type { Inspection, ProvisionStep } from './steps.ts';

export interface LedgerEntry {
  host: string;
  step: string;
  title: string;
  /** The state before the harness applied the step: what undo restores. */
  previousState: string;
  appliedAt: string;
}

export class ProvisionLedger {
  readonly entries: LedgerEntry[] = [];
  record(entry: LedgerEntry): void {
    this.entries.push(entry);
  }
  toJSON(): LedgerEntry[] {
    return this.entries;
  }
}

export interface StepOutcome {
  step: string;
  title: string;
  action: 'already-in-place' | 'applied';
  before: string;
  after?: string;
}

export class ProvisionError extends Error {
  constructor(
    readonly host: string,
    readonly step: string,
    message: string,
  ) {
    super(`${host}: ${step}: ${message}`);
    this.name = 'ProvisionError';
  }
}

async function inspect(host: HostTransport, step: ProvisionStep): Promise<Inspection> {
  const result = await runCommand(host, step.check);
  return step.inspect(result);
}

/** Check, apply when needed, check again: a step that still is not in place is an error. */
export async function applySteps(
  host: HostTransport,
  steps: readonly ProvisionStep[],
  ledger: ProvisionLedger,
  log: (line: string) => void = () => {},
): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = [];
  for (const step of steps) {
    let found: Inspection;
    try {
      found = await inspect(host, step);
    } catch (error) {
      throw new ProvisionError(host.hostName, step.title, (error as Error).message);
    }
    if (found.satisfied) {
      outcomes.push({ step: step.id, title: step.title, action: 'already-in-place', before: found.detail });
      log(`${host.hostName}: ${step.title}: already in place (${found.detail})`);
      continue;
    }
    // recorded before applying: a half-applied step (e.g. 3 of 8 VFs) must still be undone
    ledger.record({ host: host.hostName, step: step.id, title: step.title, previousState: found.state, appliedAt: new Date().toISOString() });
    for (const command of step.apply(found)) {
      try {
        await runCommand(host, command);
      } catch (error) {
        throw new ProvisionError(host.hostName, step.title, (error as Error).message);
      }
    }
    const after = await inspect(host, step);
    if (!after.satisfied) throw new ProvisionError(host.hostName, step.title, `still not in place after set-up (${after.detail})`);
    outcomes.push({ step: step.id, title: step.title, action: 'applied', before: found.detail, after: after.detail });
    log(`${host.hostName}: ${step.title}: done (was ${found.detail})`);
  }
  return outcomes;
}

/**
 * Undoes the ledger's entries for this host in reverse order. Keeps going past a failing undo
 * (the rest still deserves cleaning) and returns what could not be undone.
 */
export async function undoSteps(host: HostTransport, steps: readonly ProvisionStep[], ledger: ProvisionLedger): Promise<string[]> {
  const problems: string[] = [];
  const byId = new Map(steps.map((s) => [s.id, s]));
  // a step applied several times (a device re-created per cell) is undone once, to the state found before its first apply
  const mine = ledger.entries.filter((e, i, all) => e.host === host.hostName && all.findIndex((f) => f.host === e.host && f.step === e.step) === i).reverse();
  for (const entry of mine) {
    const step = byId.get(entry.step);
    if (!step) {
      problems.push(`${entry.title}: no undo known for step ${entry.step}`);
      continue;
    }
    for (const command of step.undo(entry.previousState)) {
      try {
        await runCommand(host, command);
      } catch (error) {
        problems.push(`${entry.title}: ${(error as Error).message}`);
      }
    }
  }
  return problems;
}
