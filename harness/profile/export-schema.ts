/** `npm run build:schema`: regenerates profiles/schema.json (a test checks it is current). */
import { writeFile } from 'node:fs/promises';
import { profileJsonSchema } from './json-schema.ts';

await writeFile(new URL('../../profiles/schema.json', import.meta.url), JSON.stringify(profileJsonSchema(), null, 2) + '\n');
