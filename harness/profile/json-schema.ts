import { z } from 'zod';
import { profileSchema } from './schema.ts';

/** JSON Schema of the profile as an editor sees it (the input form: defaults are optional). */
export function profileJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(profileSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://vdpa-bench.invalid/profile.schema.json',
    title: 'vdpa-bench lab profile',
  };
}
