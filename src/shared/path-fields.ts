import { z } from 'zod';

/**
 * Request fields that can name a file-system path, marked on the schema where the field is
 * defined: `pathField(z.string()..., { kind })`. The adapters' path consent
 * (`src/main/path-consent.ts`) reads the list from the method schemas (`pathFieldsOf`), so a new
 * path field is gated as soon as it is marked, and a test refuses a string field named like a path
 * (`model`, `path`, `out`, `cases`, `...Dir`, ...) that is not marked nor reviewed as a non-path.
 */

export type PathKind = 'folder' | 'file' | 'output';

/**
 * What a value may be instead of a path, passed untouched: the name of a known model (`model`),
 * a LoRA id from listLoras (`lora`), a built-in test set (`cases`).
 */
export type PathAlias = 'model' | 'lora' | 'cases';

export interface PathMeta {
  kind: PathKind;
  alias?: PathAlias;
}

/** The marked schemas. */
export const pathFields = z.registry<PathMeta>();

/** Marks `schema` (a string field) as naming a path and returns it, for chaining on. */
export function pathField<T extends z.ZodType<string | undefined>>(schema: T, meta: PathMeta): T {
  pathFields.add(schema, meta);
  return schema;
}

/** A model folder, or the name of a known model. */
export const MODEL_PATH: PathMeta = { kind: 'folder', alias: 'model' };
/** A `.safetensors` LoRA file, or a LoRA id from listLoras. */
export const LORA_PATH: PathMeta = { kind: 'file', alias: 'lora' };

export interface SchemaField {
  /** Dotted field path; `*` stands for every item of an array (or value of a record). */
  field: string;
  /** The innermost schema, wrappers (optional, default, ...) taken off. */
  schema: z.ZodType;
  /** Set where the field, or a wrapper around it, is marked. */
  path?: PathMeta;
}

/** Schemas that only wrap another one, the value passing through them unchanged. */
const WRAPPERS = new Set([
  'optional',
  'nullable',
  'default',
  'prefault',
  'readonly',
  'catch',
  'nonoptional',
]);

/** Past this depth a schema is taken as recursive (z.lazy) and not followed further. */
const MAX_DEPTH = 32;

/**
 * Every leaf field of an input schema (objects, arrays, records, unions and wrappers followed), with
 * its path mark if it has one.
 */
export function schemaFields(schema: z.ZodType): SchemaField[] {
  const found: SchemaField[] = [];
  const walk = (node: z.ZodType, at: string[], mark: PathMeta | undefined, depth: number): void => {
    const path = pathFields.get(node) ?? mark;
    if (depth > MAX_DEPTH) return;
    const def = node._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
    const child = (s: unknown, where: string[]): void =>
      walk(s as z.ZodType, where, path, depth + 1);
    if (WRAPPERS.has(def.type)) return child(def.innerType, at);
    switch (def.type) {
      case 'object':
        for (const [key, value] of Object.entries((node as z.ZodObject).shape))
          child(value, [...at, key]);
        return;
      case 'array':
        return child(def.element, [...at, '*']);
      case 'record':
        return child(def.valueType, [...at, '*']);
      case 'tuple':
        (def.items as unknown[]).forEach((item, i) => child(item, [...at, String(i)]));
        return;
      case 'union':
        for (const option of def.options as unknown[]) child(option, at);
        return;
      case 'intersection':
        child(def.left, at);
        return child(def.right, at);
      case 'pipe':
        child(def.in, at);
        return child(def.out, at);
      case 'lazy':
        return child((def.getter as () => unknown)(), at);
      default:
        found.push({ field: at.join('.'), schema: node, ...(path ? { path } : {}) });
    }
  };
  walk(schema, [], undefined, 0);
  return found;
}

/** The marked path fields of an input schema, each once. */
export function pathFieldsOf(schema: z.ZodType): { field: string; path: PathMeta }[] {
  const seen = new Map<string, PathMeta>();
  for (const f of schemaFields(schema)) if (f.path && !seen.has(f.field)) seen.set(f.field, f.path);
  return [...seen].map(([field, path]) => ({ field, path }));
}
