/** Writes the results format's JSON Schema files (docs/schemas/) from the zod schemas: `npm run build:results-schema`. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resultsJsonSchemas } from './schema.ts';

export const SCHEMA_DIR = fileURLToPath(new URL('../../docs/schemas/', import.meta.url));

export const schemaFileText = (schema: unknown) => JSON.stringify(schema, null, 2) + '\n';

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await mkdir(SCHEMA_DIR, { recursive: true });
  for (const [name, schema] of Object.entries(resultsJsonSchemas())) {
    await writeFile(join(SCHEMA_DIR, name), schemaFileText(schema));
    console.log(`wrote ${join(SCHEMA_DIR, name)}`);
  }
}
