/**
 * QEMU 10.0's migration settings as it starts, for the scripted QEMU: the answers of a real
 * qemu-system-x86_64 10.0 (Debian trixie, `-machine none -qmp stdio`) to query-migrate-capabilities
 * and query-migrate-parameters, kept in test/fixtures/qemu-10.0-migration-settings.json (its
 * `captured` says how, and the two values shown at their defaults rather than as the capture set them).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Captured {
  captured: string;
  capabilities: { state: boolean; capability: string }[];
  parameters: Record<string, unknown>;
}

export const QEMU_10_SETTINGS: Captured = JSON.parse(
  readFileSync(join(import.meta.dirname, '../fixtures/qemu-10.0-migration-settings.json'), 'utf8'),
) as Captured;
