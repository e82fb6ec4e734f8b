import { z } from 'zod';
import { ExecutionProviderSchema, type ExecutionProvider } from '../../shared/schemas';
import { RecipeSchema, recipeSteps, type Recipe } from '../bench/recipes';
import { FAMILY_DEFAULTS } from '../models/family-defaults';
import { detectFamily } from '../models/model-folder';

/**
 * A saved profile: a recipe (the change against the person's own settings: steps x factor,
 * scheduler, variant, session options) plus the provider it was measured on and what the
 * benchmark promised. `generate` applies it through `profileSampling`, the same function the
 * benchmark uses to build its requests, so what was measured is what is applied.
 */
export const ProfileSchema = z
  .object({
    recipe: RecipeSchema,
    ep: ExecutionProviderSchema,
    /** What the benchmark measured and printed for this recipe. */
    measured: z
      .object({
        runId: z.number().int(),
        settings: z.enum(['model', 'cases']),
        speedup: z.number().nullable(),
        speedupCi: z.tuple([z.number(), z.number()]).nullable(),
      })
      .strict(),
  })
  .strict();
export type Profile = z.infer<typeof ProfileSchema>;

/** Reads a stored profile; profiles saved before this format are a bare recipe (CPU, no promise). */
export function parseProfile(json: string): {
  recipe: Recipe;
  ep?: ExecutionProvider;
  measured?: Profile['measured'];
} {
  const raw: unknown = JSON.parse(json);
  const profile = ProfileSchema.safeParse(raw);
  if (profile.success) return profile.data;
  return { recipe: RecipeSchema.parse(raw) };
}

/** The steps and guidance a person gets from `generate` without options: the model family's defaults. */
export function modelDefaults(modelDir: string): { steps: number; guidance: number } {
  const family = detectFamily(modelDir);
  return family === 'unknown' ? { steps: 25, guidance: 7.5 } : FAMILY_DEFAULTS[family];
}

export interface ProfileSampling {
  /** Undefined: the engine's own default (the recipe does not change steps). */
  steps?: number;
  guidance?: number;
  scheduler?: Recipe['sampling']['scheduler'];
  adaptiveSteps?: boolean;
  schedulerOverrides?: Recipe['sampling']['schedulerOverrides'];
  featureCache?: Recipe['sampling']['featureCache'];
  guidanceInterval?: Recipe['sampling']['guidanceInterval'];
}

/**
 * What a recipe changes in sampling, relative to `baseSteps` (the steps the person uses: the
 * model's default). Fields the recipe leaves alone stay undefined so the engine's defaults apply.
 */
export function profileSampling(recipe: Recipe, baseSteps: number): ProfileSampling {
  const s = recipe.sampling;
  return {
    steps: s.steps || s.stepsFactor ? recipeSteps(recipe, baseSteps) : undefined,
    guidance: s.guidance,
    scheduler: s.scheduler,
    adaptiveSteps: s.adaptiveSteps,
    schedulerOverrides: s.schedulerOverrides,
    featureCache: s.featureCache,
    guidanceInterval: s.guidanceInterval,
  };
}
