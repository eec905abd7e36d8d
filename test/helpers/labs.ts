import { readRecords, type OwnershipRecord } from '../../harness/labbox/ownership.ts';

export type OwnedLab = OwnershipRecord;

/** Labs currently recorded as created by some harness process. */
export async function readOwnedLabs(): Promise<OwnedLab[]> {
  return (await readRecords()).flatMap((e) => (e.record ? [e.record] : []));
}
