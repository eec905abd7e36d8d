/**
 * The migration settings QEMU actually uses, read back after the harness set them: the variant
 * sets only what its profile names (migrate-set-capabilities, migrate-set-parameters); everything
 * else is QEMU's default, which changes between releases (max-bandwidth was 32 MiB/s before 128,
 * downtime-limit is 300 ms). So each side is asked (query-migrate-capabilities,
 * query-migrate-parameters) before every migration, the answer goes into the record, and a value
 * QEMU did not take as set stops the migration with both values.
 */
import type { RunningQemu } from '../qemu/running.ts';
import type { MigrationSettings } from '../results/types.ts';

type Side = MigrationSettings['source'];

/** The QMP commands that read the effective settings (also shown by `plan`). */
export const READ_BACK = [{ execute: 'query-migrate-capabilities' }, { execute: 'query-migrate-parameters' }] as const;

export async function readSettings(q: RunningQemu): Promise<Side> {
  const capabilities = await q.qmp.execute<{ capability: string; state: boolean }[]>(READ_BACK[0].execute);
  const parameters = await q.qmp.execute<Record<string, unknown>>(READ_BACK[1].execute);
  return { capabilities: Object.fromEntries(capabilities.map((c) => [c.capability, c.state])), parameters };
}

/** What QEMU did not take as the variant set it, one phrase per setting (pure); empty when everything reads back as set. */
export function notTaken(effective: Side, wanted: { capabilities: Record<string, boolean>; parameters: Record<string, unknown> }): string[] {
  const out: string[] = [];
  for (const [name, state] of Object.entries(wanted.capabilities))
    if (effective.capabilities[name] !== state) out.push(`capability ${name} reads ${String(effective.capabilities[name] ?? 'absent')}, set ${state}`);
  for (const [name, value] of Object.entries(wanted.parameters))
    if (JSON.stringify(effective.parameters[name]) !== JSON.stringify(value))
      out.push(
        `parameter ${name} reads ${effective.parameters[name] === undefined ? 'absent' : JSON.stringify(effective.parameters[name])}, set ${JSON.stringify(value)}`,
      );
  return out;
}
