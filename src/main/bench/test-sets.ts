import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { StudioError, describeZodError } from '../../shared/errors';

export const TestCaseSchema = z
  .object({
    prompt: z.string().max(4000),
    negativePrompt: z.string().max(4000).default(''),
    steps: z.number().int().min(1).max(1000),
    guidance: z.number().min(0).max(100),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1),
    width: z.number().int().positive().multipleOf(8).optional(),
    height: z.number().int().positive().multipleOf(8).optional(),
  })
  .strict();
export const TestSetSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().default(''),
    cases: z.array(TestCaseSchema).min(1, 'a test set needs at least one case'),
  })
  .strict();
export type TestCase = z.infer<typeof TestCaseSchema>;
export type TestSet = z.infer<typeof TestSetSchema>;

/** The classic benchmark's five prompts, with its steps and guidance, and fixed seeds. */
export const CLASSIC_SET: TestSet = TestSetSchema.parse({
  name: 'default',
  description: 'The five prompts of the classic Stable Diffusion optimization benchmark.',
  cases: [
    { prompt: 'an astronaut riding a horse on mars', steps: 50, guidance: 7.5, seed: 1001 },
    { prompt: 'a landscape with mountains and a lake', steps: 30, guidance: 5.0, seed: 1002 },
    { prompt: 'a portrait of a woman with blue eyes', steps: 40, guidance: 7.0, seed: 1003 },
    { prompt: 'a fantasy castle in a forest', steps: 50, guidance: 8.0, seed: 1004 },
    {
      prompt: 'a modern cityscape at night with neon lights',
      steps: 30,
      guidance: 6.0,
      seed: 1005,
    },
  ],
});

/** The same shape of benchmark (steps, guidance, seeds) in words the bundled tiny-shapes model knows. */
export const SHAPES_SET: TestSet = TestSetSchema.parse({
  name: 'shapes',
  description:
    'The classic set transposed to tiny-shapes: same steps, guidance and seeds, shape prompts.',
  cases: [
    { prompt: 'a red circle on a blue background', steps: 50, guidance: 7.5, seed: 1001 },
    { prompt: 'a green square on a white background', steps: 30, guidance: 5.0, seed: 1002 },
    { prompt: 'a yellow star on a purple background', steps: 40, guidance: 7.0, seed: 1003 },
    { prompt: 'a blue triangle on an orange background', steps: 50, guidance: 8.0, seed: 1004 },
    { prompt: 'a white circle on a black background', steps: 30, guidance: 6.0, seed: 1005 },
  ],
});

/**
 * `default`, `shapes`, or a JSON file. `auto` picks `shapes` for the bundled model (and variants
 * made from it) and the classic set for everything else.
 */
export function loadTestSet(spec: string, modelName: string): TestSet {
  if (spec === 'auto') return modelName.startsWith('tiny-shapes') ? SHAPES_SET : CLASSIC_SET;
  if (spec === 'default' || spec === 'classic') return CLASSIC_SET;
  if (spec === 'shapes') return SHAPES_SET;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(spec, 'utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StudioError(
      `--cases "${spec}" is not default, shapes or a readable JSON file (${reason})`,
      'bad-input',
    );
  }
  const parsed = TestSetSchema.safeParse(raw);
  if (!parsed.success) {
    // Paths come out as "cases.2.steps": the case and the field.
    throw new StudioError(`${spec}: ${describeZodError(parsed.error, 'file')}`, 'bad-input');
  }
  return parsed.data;
}
