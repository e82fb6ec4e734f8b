import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { METHOD_NAMES, studioMethods } from './api';
import { MODEL_PATH, pathField, pathFieldsOf, schemaFields } from './path-fields';

/** A field name that says it holds a path. */
const PATH_LIKE = /^(model|path|out|cases|dir|folder|file)$|(Path|Dir|Folder|File)$/;

/**
 * String fields named like a path that are not paths, each with the reason. Anything else named
 * like a path must be marked with pathField, so the adapters gate it.
 */
const NOT_PATHS: Record<string, string> = {
  'listImages.model': 'a filter compared with the model names stored with each run',
  'listProfiles.model': 'a filter compared with the model names stored with each profile',
  'readImage.path': 'the service reads only PNG files under <home>/images, checked on the text',
};

describe('path fields', () => {
  it('every string field named like a path is a marked path field or a reviewed non-path', () => {
    const unmarked: string[] = [];
    for (const method of METHOD_NAMES) {
      for (const f of schemaFields(studioMethods[method].input)) {
        const name = f.field.split('.').at(-1) ?? '';
        if (!(f.schema instanceof z.ZodString) || !PATH_LIKE.test(name)) continue;
        const id = `${method}.${f.field}`;
        if (!f.path && !(id in NOT_PATHS)) unmarked.push(id);
        if (f.path && id in NOT_PATHS) unmarked.push(`${id} (marked, and listed as a non-path)`);
      }
    }
    expect(unmarked).toEqual([]);
  });

  it('finds marks through wrappers, refinements, arrays, records and unions', () => {
    const lora = z.object({ path: pathField(z.string(), { kind: 'file' }) });
    const schema = z
      .object({
        model: pathField(z.string().min(1), MODEL_PATH).default('x'),
        loras: z.array(lora).optional(),
        byName: z.record(z.string(), lora),
        either: z.union([z.number(), pathField(z.string(), { kind: 'output' })]).nullable(),
        prompt: z.string(),
      })
      .strict()
      .refine(() => true)
      .optional();
    expect(pathFieldsOf(schema)).toEqual([
      { field: 'model', path: MODEL_PATH },
      { field: 'loras.*.path', path: { kind: 'file' } },
      { field: 'byName.*.path', path: { kind: 'file' } },
      { field: 'either', path: { kind: 'output' } },
    ]);
    // A mark on a wrapper covers what it wraps.
    expect(
      pathFieldsOf(z.object({ cases: pathField(z.string().default('auto'), { kind: 'file' }) })),
    ).toEqual([{ field: 'cases', path: { kind: 'file' } }]);
  });
});
