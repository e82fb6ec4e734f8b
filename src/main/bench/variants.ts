import { studioHome } from '../paths';
import { ensureVariant } from '../optimize/variant-store';
import { compositionRefusal, findOptimizeRecipe } from '../optimize/recipes';
import { ensureLoraVariant } from '../optimize/variant-store';
import { findLcmLora, findStepDistilledLora, type LoraCard } from '../optimize/bundled-loras';
import { detectFamily } from '../models/model-folder';
import { TINY_VAE_VARIANT, ensureTinyVaeVariant, tinyVaeRefusal } from '../optimize/tiny-vae';
import { StudioError } from '../../shared/errors';
import type { Recipe } from './recipes';

/** The distilled tier's variant: the model with its family's LCM-LoRA merged (see bundled-loras). */
export const LCM_LORA_VARIANT = 'lcm-lora';
/** The distilled tier that keeps the teacher's pictures: the model's step-distilled LoRA merged. */
export const DISTILLED_STEPS_VARIANT = 'distilled-steps';

export interface VariantProgress {
  variant: string;
  /** What the optimizer is doing now, in words ("unet: writing tensor 120/300"). */
  message: string;
  /** 0..1 over the whole variant. */
  fraction: number;
}

/**
 * Variants that are the model with a LoRA merged in (what distillation recipes run on), and where
 * each finds its LoRA for a model: its card (bundled for the model, or a person's own for its
 * family). A new distilled recipe adds its variant here.
 */
export const LORA_VARIANTS: Readonly<
  Record<
    string,
    (modelDir: string, family: string | undefined, home: string) => LoraCard | undefined
  >
> = {
  [LCM_LORA_VARIANT]: findLcmLora,
  [DISTILLED_STEPS_VARIANT]: findStepDistilledLora,
};

/**
 * A variant name taken apart: the LoRA merged first (if any), then the optimizer recipe (if any),
 * then the VAE decoder swapped (if any).
 */
export interface VariantParts {
  lora?: string;
  /** A single or composed optimizer recipe, canonical (`attention+int8`). */
  optimize?: string;
  /** `tiny-vae`: the vae_decoder replaced by a TAESD decoder from `<home>/vae/` (optimize/tiny-vae.ts). */
  vae?: typeof TINY_VAE_VARIANT;
}

/**
 * A variant name split into its parts, or the reason it cannot be built as one model. `+` joins
 * parts (`lcm-lora+attention+int8`); at most one LoRA variant, since each is a different student
 * with its own sampling; the optimizer parts must compose (compositionRefusal); `tiny-vae`
 * composes with anything, since it only replaces the decoder, last.
 */
export function variantParts(variant: string): VariantParts | { refused: string } {
  if (variant === 'source') return {};
  const names = [...new Set(variant.split('+').filter((n) => n !== 'source'))];
  const loras = names.filter((n) => Object.hasOwn(LORA_VARIANTS, n));
  if (loras.length > 1)
    return {
      refused: `${loras.join(' and ')} cannot be combined: each is a distilled student with its own sampling, and a stack takes one sampling change`,
    };
  const vae = names.includes(TINY_VAE_VARIANT);
  const optimize = names.filter((n) => !Object.hasOwn(LORA_VARIANTS, n) && n !== TINY_VAE_VARIANT);
  const refusal = compositionRefusal(optimize);
  if (refusal) return { refused: refusal };
  return {
    ...(loras.length ? { lora: loras[0] } : {}),
    ...(optimize.length ? { optimize: findOptimizeRecipe(optimize.join('+')).name } : {}),
    ...(vae ? { vae: TINY_VAE_VARIANT } : {}),
  };
}

/**
 * The canonical name of the variant that applies all these variants to one model (`source` parts
 * drop out): the LoRA first, since it is merged first, then the canonical optimizer composition.
 * Any order of the same parts gives the same name, hence the same folder in the variant store.
 * Throws a `bad-input` error with the reason when they cannot be combined.
 */
export function composeVariant(variants: readonly string[]): string {
  const joined = variants.filter((v) => v !== 'source').join('+');
  if (!joined) return 'source';
  const parts = variantParts(joined);
  if ('refused' in parts) throw new StudioError(parts.refused, 'bad-input');
  return [parts.lora, parts.optimize, parts.vae].filter((p) => p !== undefined).join('+');
}

/**
 * A distilled recipe sampled as its LoRA's card says. A student is trained for one scheduler, step
 * count, guidance and timestep grid (a step-distilled LoRA lands on its teacher's path only at the timesteps it
 * was trained on), so the card, not the recipe's catalogue entry, decides them; the catalogue's
 * values are the fallback for a card that leaves them out. Recipes on other variants come back as
 * they are.
 */
export function withCardSampling(
  recipe: Recipe,
  modelDir: string,
  family: string | undefined,
  home: string = studioHome(),
): Recipe {
  const parts = variantParts(recipe.variant);
  if ('refused' in parts || parts.lora === undefined) return recipe;
  const card = LORA_VARIANTS[parts.lora](modelDir, family, home);
  if (!card) return recipe;
  const sampling = {
    ...recipe.sampling,
    ...(card.scheduler !== undefined ? { scheduler: card.scheduler } : {}),
    ...(card.steps !== undefined ? { steps: card.steps } : {}),
    ...(card.guidance !== undefined ? { guidance: card.guidance } : {}),
    ...(card.schedulerOverrides !== undefined
      ? {
          schedulerOverrides: { ...recipe.sampling.schedulerOverrides, ...card.schedulerOverrides },
        }
      : {}),
  };
  const steps = sampling.steps;
  return {
    ...recipe,
    // The title names the steps the person will get.
    title:
      steps !== undefined ? recipe.title.replace(/\b\d+ steps\b/, `${steps} steps`) : recipe.title,
    sampling,
  };
}

/** Variants the optimizer can build for this model (a recipe's `variant` other than `source`). */
export function canBuildVariant(
  variant: string,
  modelDir?: string,
  family?: string,
  home: string = studioHome(),
): boolean {
  if (variant === 'source') return true;
  const parts = variantParts(variant);
  if ('refused' in parts) return false;
  if (parts.lora === undefined && parts.vae === undefined) return true;
  if (modelDir === undefined) return false;
  // A LoRA variant needs its card for this model; tiny-vae a decoder of its latent family.
  if (parts.lora !== undefined && LORA_VARIANTS[parts.lora](modelDir, family, home) === undefined)
    return false;
  return parts.vae === undefined || tinyVaeRefusal(home, modelDir, family) === undefined;
}

/**
 * The folder to run a recipe's variant from: `source` is the model itself; anything else is built
 * on demand by the optimizer (in its worker, with progress) and cached in the variant store
 * (`<home>/models/<model>--<variant>`) for the next run. A cached variant whose source changed is
 * rebuilt, never used.
 *
 * A variant with a LoRA and optimizer parts (`lcm-lora+attention+int8`, a distilled stack) is
 * built in two cached steps: the LoRA merged into the float32 weights (the same folder the LoRA's
 * own recipe runs on), then the optimizer recipe applied to that merged model. Merging first keeps
 * the LoRA exact: W + scale·(alpha/rank)·up·down is computed in float32 and the quantizer then
 * sees the final weights, so the only error is the quantizer's, as for any model. The other way
 * round, the merge would find packed MatMulNBits blocks instead of the float weights its keys map
 * to, and merging there would mean dequantize, add, requantize: the small LoRA delta rounded to the
 * quantization step. The second step's self-check compares against the merged model with the
 * recipe's own tolerance: the same check as any variant (against the unmerged source it could only
 * ask for finite outputs).
 *
 * `tiny-vae` comes last: the result of the steps before, with its vae_decoder replaced by the
 * TAESD decoder of its latent family from `<home>/vae/` (optimize/tiny-vae.ts; built in this
 * process in well under a second, links and one small copy). Without such a decoder it is refused
 * (`not-found`) with what to put where.
 */
export async function prepareVariant(
  modelDir: string,
  variant: string,
  onProgress: (p: VariantProgress) => void = () => {},
  home: string = studioHome(),
  signal?: AbortSignal,
): Promise<string> {
  if (variant === 'source') return modelDir;
  const parts = variantParts(variant);
  if ('refused' in parts) throw new StudioError(parts.refused, 'bad-input');
  const both = parts.lora !== undefined && parts.optimize !== undefined;
  const canonical = [parts.lora, parts.optimize].filter((n) => n !== undefined).join('+');
  // The decoder swap is links and one small copy: a sliver of the bar after heavier steps.
  const vaeSpan = parts.vae === undefined ? 0 : canonical ? 0.05 : 1;
  const heavy = 1 - vaeSpan;
  const report =
    (what: string, from: number, span: number) =>
    (p: { fraction: number; message: string; reason: string }): void =>
      onProgress({
        variant,
        fraction: from + span * p.fraction,
        message: `building the ${what} variant (${p.reason}): ${p.message}`,
      });
  if (parts.vae !== undefined) {
    // Refused before any LoRA merge or optimizer build that it would come after.
    const refusal = tinyVaeRefusal(home, modelDir, safeFamily(modelDir));
    if (refusal) throw new StudioError(refusal, 'not-found');
  }
  let base = modelDir;
  if (parts.lora !== undefined) {
    const card = loraOfVariant(modelDir, parts.lora, home);
    if (!card) {
      throw new StudioError(
        `no LoRA for the ${parts.lora} variant is known for ${modelDir}: put one with a card (kind "${parts.lora}", its family) in ${home}/loras/`,
        'not-found',
      );
    }
    base = await ensureLoraVariant(
      home,
      modelDir,
      [{ path: card.path, scale: card.scale }],
      report(parts.lora, 0, heavy * (both ? 0.5 : 1)),
      signal,
    );
  }
  if (parts.optimize !== undefined) {
    base = await ensureVariant(
      home,
      base,
      parts.optimize,
      report(canonical, heavy * (both ? 0.5 : 0), heavy * (both ? 0.5 : 1)),
      signal,
    );
  }
  if (parts.vae === undefined) return base;
  signal?.throwIfAborted();
  return ensureTinyVaeVariant(
    home,
    base,
    report(composeVariant([variant]), heavy, vaeSpan),
    safeFamily(modelDir),
  );
}

/** The LoRA (its card) a LoRA variant such as `distilled-steps` merges into this model, if any. */
export function loraOfVariant(
  modelDir: string,
  loraVariant: string,
  home: string,
): LoraCard | undefined {
  return LORA_VARIANTS[loraVariant]?.(modelDir, safeFamily(modelDir), home);
}

function safeFamily(modelDir: string): string | undefined {
  try {
    return detectFamily(modelDir);
  } catch {
    return undefined;
  }
}
