/**
 * JSON the harness wrote, read back by a test as the type the harness wrote it with: the test
 * then checks the values, and the compiler checks that the fields it reads exist. The type is
 * required (`never` otherwise), so no test reads an `any`.
 */
import { readFile } from 'node:fs/promises';

export const parseJson = <T = never>(text: string): T => JSON.parse(text) as T;

export const readJson = async <T = never>(path: string | URL): Promise<T> => parseJson<T>(await readFile(path, 'utf8'));

/** A profile's YAML as a test edits it (ports, keys, a variant) before writing its own copy. */
export type ProfileYaml = Record<string, unknown> & { hosts: { transport: Record<string, unknown> }[]; variants: Record<string, unknown>[] };
