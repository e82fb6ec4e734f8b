import type { HardwareInfo, ModelSummary } from '../../shared/schemas';
import { BUILTIN_RECIPES, type Recipe } from './recipes';

import type { Priority } from '../../shared/bench-schemas';

export type { Priority };
export type Objective = 'latency' | 'throughput';

export interface WizardQuestion {
  hardwareClass: HardwareInfo['hardwareClass'];
  priority: Priority;
  objective: Objective;
  family: ModelSummary['family'];
  /** Optimized variants present next to the model (`int8`, `fp16`, ...). */
  variants: readonly string[];
  /**
   * Whether the optimizer can build a variant on demand (the runner calls `prepareVariant`). The one
   * place that decides which variant recipes are proposed when their folder does not exist yet.
   */
  canBuildVariant: (variant: string) => boolean;
  /** Execution providers that probe as working here: GPU-only recipes need one of them. */
  gpuProviderWorks?: boolean;
}

export interface Proposal {
  recipes: Recipe[];
  /** Recipes the tree wanted but that cannot run here, and why. */
  skipped: { recipe: string; reason: string }[];
  /** Recipes that can run here but were left out by the cap: the plan lets a person tick them in. */
  more: Recipe[];
}

/**
 * The baseline and nine candidates: room for the training-free evaluation savings (two feature
 * cache intervals, guidance truncation) beside both distilled tiers and the single strategies
 * (attention, a session setting, a quantization, a scheduler on a CPU) while a default run on
 * tiny-shapes stays a few minutes.
 */
export const MAX_PROPOSED = 10;

/**
 * The decision tree: hardware class, then what matters, then latency or throughput. Proposes the
 * baseline and 2-5 single-strategy candidates (the runner stacks those that pass into tiers); it
 * never decides alone, the benchmark does.
 */
export function proposeCandidates(q: WizardQuestion): Proposal {
  const wanted: string[] = [];
  const fewStepFamily = q.family === 'sd-turbo' || q.family === 'lcm';
  // GPU recipes (fp16) only where a GPU provider actually works, not merely where a GPU is present.
  const gpu =
    (q.hardwareClass === 'gpu-consumer' || q.hardwareClass === 'gpu-pro') &&
    q.gpuProviderWorks !== false;
  // Most telling first: the cap (MAX_PROPOSED) keeps the head of this list.
  if (gpu) wanted.push('fp16');
  // Attention fusion keeps the weights and the math: worth measuring for every priority.
  wanted.push('attention');
  // Training-free and for any model and machine: fewer full UNet evaluations on the same
  // trajectory (feature caching), and one UNet row instead of two where guidance matters little.
  // Few-step families run 1-4 steps: nothing to cache between, and no CFG to truncate.
  if (!fewStepFamily) {
    wanted.push(q.priority === 'quality' ? 'feature-cache-2' : 'feature-cache-3');
    if (q.priority !== 'quality') wanted.push('feature-cache-5');
    wanted.push('cfg-truncate');
  }
  // A tiny decoder, where one for the model's latent family is in <home>/vae/ (canBuildVariant
  // decides): the VAE decode is one or two UNet steps' worth of a CPU image.
  wanted.push('tiny-vae');
  // Spin-waiting threads cost most where cores are few and shared: a CPU-only machine.
  if (q.hardwareClass === 'cpu-only') wanted.push('no-spin');
  // The distilled tier that keeps the pictures, where a step-distilled LoRA exists for the model
  // (canBuildVariant decides): judged by SSIM/PSNR like any recipe, so every priority may want it.
  if (!fewStepFamily) wanted.push('distilled-steps');
  // The distilled tier, where an LCM-LoRA for this model exists (canBuildVariant decides).
  if (!fewStepFamily && q.priority !== 'quality') wanted.push('lcm-lora');
  if (q.priority !== 'quality' && !gpu) wanted.push('int8');
  if (q.objective === 'throughput' || q.hardwareClass === 'gpu-consumer' || q.family === 'sdxl') {
    wanted.push(q.family === 'sdxl' ? 'sequential' : 'vae-tiled');
  }
  if (!fewStepFamily) {
    if (q.priority === 'speed') {
      wanted.push('dpm-half-trailing', 'dpm-fast', 'dpm-fastest', 'adaptive-steps');
    } else if (q.priority === 'balance') {
      wanted.push('dpm-half-trailing', 'dpm-fast', 'euler-fast');
    } else {
      wanted.push('dpm-half-trailing');
    }
  }
  if (q.hardwareClass === 'cpu-only') wanted.push('threads-physical');
  // Fixed input sizes: measured, never assumed (no gain stood out on SD 1.5 on one CPU).
  wanted.push('static-shapes');
  // Explanatory: what the default optimized-model cache buys at start-up (only when there is room).
  if (q.priority === 'quality') wanted.push('no-model-cache');
  // Explanatory: what the default graph level buys (never recommended; only when there is room).
  wanted.push('graph-basic');

  const skipped: Proposal['skipped'] = [];
  const more: Recipe[] = [];
  const chosen: Recipe[] = [BUILTIN_RECIPES.find((r) => r.name === 'baseline') as Recipe];
  for (const name of wanted) {
    const recipe = BUILTIN_RECIPES.find((r) => r.name === name);
    if (!recipe || chosen.includes(recipe)) continue;
    if (
      recipe.variant !== 'source' &&
      !q.variants.includes(recipe.variant) &&
      !q.canBuildVariant(recipe.variant)
    ) {
      skipped.push({
        recipe: name,
        reason: recipe.variant.split('+').includes('tiny-vae')
          ? "no tiny VAE decoder for this model's latent family is in the studio's vae folder (<home>/vae/<name>/vae_decoder/, docs/tiny-vae.md)"
          : `no ${recipe.variant} variant of this model exists yet and the optimizer cannot build one`,
      });
      continue;
    }
    if (chosen.length >= MAX_PROPOSED) {
      more.push(recipe);
      skipped.push({
        recipe: name,
        reason: `the wizard measures at most ${MAX_PROPOSED} recipes, the baseline included; tick it in the plan (or name it with --recipes) to measure it`,
      });
      continue;
    }
    chosen.push(recipe);
  }
  return { recipes: chosen, skipped, more };
}
