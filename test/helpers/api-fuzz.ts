import fc from 'fast-check';
import { z } from 'zod';
import { METHOD_NAMES, studioMethods, type MethodName } from '../../src/shared/api';
import type { StudioHandlers } from '../../src/shared/api';

/**
 * Property-based fuzzing of every StudioApi method's input through the web host (loopback only).
 * Inputs are built from each method's own field names (from its zod schema) mixed with unknown
 * fields, wrong types, huge and hostile strings (paths, handles, escapes), so that both the schema
 * and the services behind it are reached. Methods whose valid input would start long or
 * networked work (a generation, a benchmark, a download) answer from a stub once their input has
 * passed validation and the path checks; everything else is the real service.
 */
export const STUBBED: ReadonlySet<MethodName> = new Set<MethodName>([
  'generate',
  'runBenchmark',
  'optimizeModel',
  'getHardware',
  'proposeRecipes',
  ...(['planModelDownload', 'downloadModel', 'checkFit', 'getCatalogue'] as string[]).filter(
    (m): m is MethodName => (METHOD_NAMES as readonly string[]).includes(m),
  ),
]);

/** The studio's handlers with the long-running ones answering `{ stubbed: true }`. */
export function stubHeavy(handlers: StudioHandlers): StudioHandlers {
  const out = { ...handlers } as Record<string, unknown>;
  for (const m of STUBBED) out[m] = async () => ({ stubbed: true });
  return out as StudioHandlers;
}

function fieldNames(schema: z.ZodType): string[] {
  try {
    const json = z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' }) as {
      properties?: Record<string, unknown>;
    };
    return Object.keys(json.properties ?? {});
  } catch {
    return [];
  }
}

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    '',
    'tiny-shapes',
    '/etc',
    '/etc/passwd',
    '../../studio.db',
    '..\\..\\windows',
    'consent:00000000-0000-0000-0000-000000000000',
    'file:///etc/passwd',
    '%00',
    'a\u0000b',
    '<script>alert(1)</script>',
    'owner/name',
    'baseline',
    'x'.repeat(5000),
  ),
);

const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: 'small' },
    hostileString,
    fc.integer(),
    fc.double(),
    fc.constantFrom(0, -1, 1, 2 ** 31, 2 ** 53, Number.MAX_SAFE_INTEGER, 1e308),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('any'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('any'), { maxKeys: 3 }),
  ),
})).any;

/** An input for `method`: its own fields with wild values, sometimes extra fields or no object. */
export function inputFor(method: MethodName): fc.Arbitrary<unknown> {
  const names = fieldNames(studioMethods[method].input);
  const key = names.length
    ? fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 8 }))
    : fc.string({ maxLength: 8 });
  return fc.oneof(
    { weight: 6, arbitrary: fc.dictionary(key, value, { maxKeys: Math.max(2, names.length) }) },
    { weight: 1, arbitrary: value },
  );
}

export interface FuzzFigures {
  requests: number;
  byStatus: Record<string, number>;
  /** Rejections (4xx) whose message does not start with a field name. */
  unnamed: { method: string; input: unknown; status: number; error: string }[];
  /** 5xx answers (503 'busy' aside) or failed requests. */
  crashes: { method: string; input: unknown; status: number; error: string }[];
}

/** "field.path: ..." or "input: ..." (the whole input). */
export const NAMES_FIELD = /^(input|[A-Za-z_$][\w$]*(\.[\w$]+)*): /;

export async function fuzzWebHost(
  base: string,
  token: string,
  runsPerMethod: number,
  seed: number,
): Promise<FuzzFigures> {
  const figures: FuzzFigures = { requests: 0, byStatus: {}, unnamed: [], crashes: [] };
  for (const method of METHOD_NAMES) {
    await fc.assert(
      fc.asyncProperty(inputFor(method), async (input) => {
        figures.requests++;
        let status = 0;
        let error = '';
        try {
          const res = await fetch(`${base}/api/${method}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: input === undefined ? '' : JSON.stringify(input),
          });
          status = res.status;
          const body = (await res.json()) as { error?: string };
          error = body.error ?? '';
        } catch (e) {
          error = e instanceof Error ? e.message : String(e);
        }
        figures.byStatus[status] = (figures.byStatus[status] ?? 0) + 1;
        // 503 is a deliberate answer ("busy, try later"); any other 5xx or no answer is a crash.
        if (status === 0 || (status >= 500 && status !== 503))
          figures.crashes.push({ method, input, status, error });
        else if (status >= 400 && !NAMES_FIELD.test(error))
          figures.unnamed.push({ method, input, status, error });
        return true;
      }),
      { numRuns: runsPerMethod, seed, endOnFailure: true },
    );
  }
  return figures;
}
