/** What QEMU did not take as set (pure), and the report's effective settings per variant. */
import test from 'ava';
import { notTaken } from '../../harness/migration/settings.ts';
import { downtimeLimits, effectiveSettings, variantTable } from '../../harness/report/model/variants.ts';
import type { IterationRecord } from '../../harness/results/types.ts';

const read = (parameters: Record<string, unknown>, capabilities: Record<string, boolean> = { events: true }) => ({ capabilities, parameters });

test('notTaken names each setting that reads back otherwise, with both values; nothing when all match', (t) => {
  const effective = read({ 'max-bandwidth': 134217728, 'downtime-limit': 300, 'tls-creds': '' });
  t.deepEqual(notTaken(effective, { capabilities: { events: true }, parameters: { 'downtime-limit': 300, 'tls-creds': '' } }), []);
  t.deepEqual(notTaken(effective, { capabilities: { events: true, 'x-colo': true }, parameters: { 'max-bandwidth': 10737418240, 'multifd-channels': 4 } }), [
    'capability x-colo reads absent, set true',
    'parameter max-bandwidth reads 134217728, set 10737418240',
    'parameter multifd-channels reads absent, set 4',
  ]);
});

test("the report's variant table and downtime limits use what QEMU read back, defaults marked as such", (t) => {
  const record = (variant: string, parameters: Record<string, unknown>) =>
    ({ variant, migrationSettings: { source: read(parameters), destination: read(parameters) } }) as unknown as IterationRecord;
  const records = [record('a', { 'downtime-limit': 300, 'max-bandwidth': 134217728 }), record('b', { 'downtime-limit': 500, 'max-bandwidth': 134217728 })];
  const effective = effectiveSettings(records);
  // b set its limit (the profile's settings say so), a left QEMU's default
  const profile = { a: {}, b: { 'parameters.downtime-limit': '500' } };
  t.deepEqual(variantTable(['a', 'b'], profile, [], effective), [{ setting: 'parameters.downtime-limit', values: { a: '300 (QEMU default)', b: '500' } }]);
  t.deepEqual(downtimeLimits(['a', 'b'], profile, [], effective), { a: 300, b: 500 }, 'a default limit is a limit: no "—"');
  // a run from before the settings were recorded: only what the profile set
  t.deepEqual(downtimeLimits(['a', 'b'], profile, []), { b: 500 });
});
