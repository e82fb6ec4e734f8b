import { z } from 'zod';
import {
  FeatureCacheSchema,
  GuidanceIntervalSchema,
  SchedulerNameSchema,
  SchedulerOverridesSchema,
} from '../../shared/schemas';
import { StudioError } from '../../shared/errors';
import type { RunConfig } from '../engine/run-config';

/**
 * A recipe: one candidate way to run a model, combining a model variant, session settings and
 * sampling settings. Plain, versioned data, so a run in the history says exactly what was measured.
 */
export const STRATEGIES = [
  'baseline',
  'quantization',
  'graph',
  'scheduler',
  'session',
  'memory',
  /** A few-step student of the model (LCM-LoRA merged, LCM scheduler): judged by prompt adherence too. */
  'distillation',
  /**
   * Fewer or cheaper UNet evaluations on the same trajectory, training-free: feature caching
   * (DeepCache) and guidance only inside an interval. Stacks with a scheduler recipe.
   */
  'caching',
  /** A composition of single strategies that passed (basic, intermediate, advanced tier). */
  'stack',
] as const;

export const TIERS = ['basic', 'intermediate', 'advanced'] as const;
export type Tier = (typeof TIERS)[number];

export const RecipeSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9+.-]*$/, 'use lower-case letters, digits, "+", "." and "-"'),
    version: z.number().int().positive(),
    title: z.string(),
    strategy: z.enum(STRATEGIES),
    description: z.string(),
    /**
     * The model variant: `source` (the model as given) or the name of an optimized variant folder
     * (e.g. `int8`, `fp16`) that an optimize step writes next to the source (`<model>-<variant>`).
     */
    variant: z.string().default('source'),
    runConfig: z
      .object({
        /** A count, or `physical-cores` (resolved on the machine that runs the recipe). */
        intraOpThreads: z.union([z.number().int().min(0), z.literal('physical-cores')]),
        interOpThreads: z.number().int().min(0),
        graphOptimizationLevel: z.enum(['disabled', 'basic', 'extended', 'all']),
        enableCpuMemArena: z.boolean(),
        enableMemPattern: z.boolean(),
        residency: z.enum(['resident', 'sequential']),
        vaeTiling: z.boolean(),
        vaeSlicing: z.boolean(),
        optimizedModelCache: z.boolean(),
        allowSpinning: z.boolean(),
        spinEverySession: z.boolean(),
        staticShapes: z.boolean(),
      })
      .partial()
      .strict()
      .default({}),
    sampling: z
      .object({
        scheduler: SchedulerNameSchema.optional(),
        /** Steps as a fraction of the steps the person uses (the model's default, or a case's), rounded up. */
        stepsFactor: z.number().positive().max(1).optional(),
        /** Fixed steps, overriding the case (distilled models). */
        steps: z.number().int().min(1).max(1000).optional(),
        guidance: z.number().min(0).optional(),
        /** Fewer steps for short prompts (the engine scales steps by prompt token count). */
        adaptiveSteps: z.boolean().optional(),
        /** scheduler_config keys to override, e.g. `timestep_spacing: trailing` for few steps. */
        schedulerOverrides: SchedulerOverridesSchema.optional(),
        /** UNet feature caching: the full UNet every N-th step (needs the feature-cache variant). */
        featureCache: FeatureCacheSchema.optional(),
        /** Classifier-free guidance only inside this part of the trajectory. */
        guidanceInterval: GuidanceIntervalSchema.optional(),
      })
      .strict()
      .default({}),
    /** Shown to explain a figure (e.g. what graph level `all` buys), never recommended. */
    explanatory: z.boolean().optional(),
    /** For stacked candidates: the tier and the single recipes it composes, in order. */
    stack: z
      .object({ tier: z.enum(TIERS), of: z.array(z.string()).min(2) })
      .strict()
      .optional(),
  })
  .strict();
export type Recipe = z.infer<typeof RecipeSchema>;

const recipe = (r: z.input<typeof RecipeSchema>): Recipe => RecipeSchema.parse(r);

/**
 * The distilled tier: the model with its LCM-LoRA merged (the bundled one for tiny-shapes, or a
 * person's own for their model's family; see optimize/bundled-loras.ts), sampled with the LCM
 * scheduler at 4 steps and guidance 1, which is what the bundled card recommends (LCM-LoRA model
 * cards say 4-8 steps, guidance 1-2). It does not reproduce the teacher's pixels, so its SSIM is
 * low by design; prompt adherence (bench/adherence.ts) says whether it still draws what was asked.
 */
export const LCM_LORA_RECIPE: Recipe = recipe({
  name: 'lcm-lora',
  version: 1,
  title: 'Distilled: LCM-LoRA, 4 steps',
  strategy: 'distillation',
  description:
    "The model's LCM-LoRA merged into its UNet, then the LCM scheduler at 4 steps with guidance 1: a few-step student instead of 25-50 teacher steps. Different pixels from the baseline by design; judge it by its prompt adherence and the pictures.",
  variant: 'lcm-lora',
  sampling: { scheduler: 'lcm', steps: 4, guidance: 1 },
});

/**
 * The distilled tier that keeps the teacher's pictures: the model with its step-distilled LoRA
 * merged (bundled for tiny-shapes: `resources/loras/tiny-shapes-distill10-cfg.json`), sampled with
 * the model's own DDIM at the card's steps, guidance and timestep grid. The LoRA was trained so that
 * each of its steps lands where the teacher's default sampling (DDIM 25 with guidance 7.5) would be
 * at that time (progressive distillation in one stage; see
 * tools/model-forge/tiny_shapes/train_step_distill_lora.py), so unlike the LCM-LoRA it is judged by
 * SSIM/PSNR against the baseline like any other recipe. The sampling below is only the fallback:
 * the bench runs the card's own (variants.ts, withCardSampling).
 */
export const DISTILLED_STEPS_RECIPE: Recipe = recipe({
  name: 'distilled-steps',
  version: 1,
  title: 'Distilled: the same pictures in 8 steps',
  strategy: 'distillation',
  description:
    "The model's step-distilled LoRA merged into its UNet, then its own DDIM at the few steps, the guidance and the timestep grid its card names: a fraction of the default steps, each trained to land where the default sampling lands. Judged by SSIM/PSNR against the baseline like any other recipe.",
  variant: 'distilled-steps',
  sampling: { scheduler: 'ddim', steps: 8, guidance: 1 },
});

/** The built-in catalogue: the five classic strategies in their ONNX Runtime forms, plus the baseline. */
export const BUILTIN_RECIPES: readonly Recipe[] = [
  recipe({
    name: 'baseline',
    version: 4,
    title: 'Baseline (what you have today)',
    strategy: 'baseline',
    description:
      "The studio's default session settings (ONNX Runtime defaults, graph optimization level all, as generate uses them; only the UNet's idle threads spin-wait, the text encoder's and VAE's sleep after their run; on the CPU the optimized graph is cached after the first load), the model's own scheduler at its default steps, every session resident. Every other single recipe changes exactly one thing against it.",
  }),
  recipe({
    name: 'graph-basic',
    version: 1,
    title: 'Basic graph optimization only (explanatory)',
    strategy: 'graph',
    description:
      "ORT's basic level only (no extended fusions, no NCHWc layouts): shows what the default level 'all' buys. Never a recommendation: it exists to explain.",
    runConfig: { graphOptimizationLevel: 'basic' },
    explanatory: true,
  }),
  recipe({
    name: 'spin-all',
    version: 1,
    title: "Every session spinning, ONNX Runtime's own default (explanatory)",
    strategy: 'session',
    description:
      "Every session's idle threads spin-wait after a run, as ONNX Runtime does by default, instead of only the UNet's: shows what the studio's default buys (the text encoder's spinning threads slow the UNet's first steps, the UNet's the VAE). Never a recommendation: it exists to explain.",
    runConfig: { spinEverySession: true },
    explanatory: true,
  }),
  recipe({
    name: 'no-model-cache',
    version: 1,
    title: 'Without the optimized-model cache (explanatory)',
    strategy: 'session',
    description:
      "Every load runs ONNX Runtime's graph optimizations again instead of loading the optimized graph the studio cached on the first load (the default on the CPU): shows what the cache buys at start-up (see loadMs and the first image); the same per-image speed once loaded. Never a recommendation: it exists to explain.",
    runConfig: { optimizedModelCache: false },
    explanatory: true,
  }),
  recipe({
    name: 'threads-physical',
    version: 2,
    title: 'One intra-op thread per physical core',
    strategy: 'session',
    description:
      'Pins intra-op threads to the physical core count (hyper-threads rarely help GEMMs); everything else as the baseline.',
    runConfig: { intraOpThreads: 'physical-cores' },
  }),
  recipe({
    name: 'single-thread',
    version: 1,
    title: 'One intra-op thread',
    strategy: 'session',
    description:
      'Each session runs its operators on one thread (intra_op_num_threads = 1) instead of one per physical core. It can help a small model, whose operators are too short to be worth sharing, where cores are few or shared; on a large model it is much slower. Not proposed by the wizard (on tiny-shapes on 2 shared cores it measured no gain); name it to measure it. The numbers decide.',
    runConfig: { intraOpThreads: 1 },
  }),
  recipe({
    name: 'no-spin',
    version: 2,
    title: 'Idle threads sleep instead of spinning',
    strategy: 'session',
    description:
      "The UNet's ONNX Runtime worker threads spin-wait between its steps by default (the other sessions' already sleep); here they sleep too (session.intra_op.allow_spinning = 0). Where cores are shared with other programs, the thread doing the work gets the CPU back; on idle machines spinning between steps is usually slightly faster. The numbers decide.",
    runConfig: { allowSpinning: false },
  }),
  recipe({
    name: 'static-shapes',
    version: 1,
    title: 'Static input shapes for the UNet',
    strategy: 'graph',
    description:
      "The UNet's symbolic input dimensions (batch, latent height and width, prompt length) fixed to the sizes you generate at, before its session is created: ONNX Runtime can then fold a traced export's shape arithmetic into constants and plan its memory once. The same weights and math. ORT's freeDimensionOverrides does this, but the Node binding does not read it, so the studio writes the sizes into a copy of the graph (the weights are linked, not copied). A new size builds a new session. Measured, never assumed.",
    runConfig: { staticShapes: true },
  }),
  recipe({
    name: 'dpm-fast',
    version: 2,
    title: 'DPM++ 2M Karras at 40% of the steps',
    strategy: 'scheduler',
    description:
      'A second-order multistep solver reaches the same image in far fewer steps than PNDM/DDIM; steps = 40% of the default steps, rounded up.',
    sampling: { scheduler: 'dpm++2m-karras', stepsFactor: 0.4 },
  }),
  recipe({
    name: 'dpm-half',
    version: 2,
    title: 'DPM++ 2M at half the steps',
    strategy: 'scheduler',
    description:
      "A second-order multistep solver on the model's own timestep spacing, at 50% of the default steps: the conservative few-step choice.",
    sampling: { scheduler: 'dpm++2m', stepsFactor: 0.5 },
  }),
  recipe({
    name: 'dpm-half-trailing',
    version: 2,
    title: 'DPM++ 2M at half the steps, trailing spacing',
    strategy: 'scheduler',
    description:
      'As dpm-half, with "trailing" timestep spacing so the first step starts from pure noise (t = 999), as few-step pipelines do; fewer steps lose less.',
    sampling: {
      scheduler: 'dpm++2m',
      stepsFactor: 0.5,
      schedulerOverrides: { timestep_spacing: 'trailing' },
    },
  }),
  recipe({
    name: 'dpm-fastest',
    version: 2,
    title: 'DPM++ 2M Karras at 20% of the steps',
    strategy: 'scheduler',
    description:
      'The aggressive end of few-step sampling: 20% of the steps. Quality decides whether it is acceptable.',
    sampling: { scheduler: 'dpm++2m-karras', stepsFactor: 0.2 },
  }),
  recipe({
    name: 'euler-fast',
    version: 2,
    title: 'Euler at 50% of the steps',
    strategy: 'scheduler',
    description:
      'First-order Euler with half the steps: cheap per step, robust, slightly softer than DPM++.',
    sampling: { scheduler: 'euler', stepsFactor: 0.5 },
  }),
  recipe({
    name: 'adaptive-steps',
    version: 2,
    title: 'Adaptive steps by prompt complexity',
    strategy: 'scheduler',
    description:
      "The model's own scheduler, with steps scaled by the prompt's length: up to 6 words' worth of tokens run 50% of the steps, up to 15 run 75%, longer prompts all of them.",
    sampling: { adaptiveSteps: true },
  }),
  recipe({
    name: 'sequential',
    version: 2,
    title: 'Sequential component loading',
    strategy: 'memory',
    description:
      'Loads each component (text encoder, UNet, VAE) just before it runs and releases it after: the ONNX form of CPU offload. Peak memory is the largest component, at the cost of load time per image.',
    runConfig: { residency: 'sequential' },
  }),
  recipe({
    name: 'vae-tiled',
    version: 2,
    title: 'Tiled and sliced VAE decode',
    strategy: 'memory',
    description:
      'Decodes the image in overlapping 512-pixel tiles, one image at a time: bounded decoder memory for large images and batches.',
    runConfig: { vaeTiling: true, vaeSlicing: true },
  }),
  // The optimizer's variants: each is built on first use (src/main/optimize/), cached in the
  // variant store, self-checked against the source, then measured like any other recipe.
  recipe({
    name: 'attention',
    version: 1,
    title: 'Fused attention (MultiHeadAttention)',
    strategy: 'graph',
    description:
      "Every UNet attention block fused into ONNX Runtime's MultiHeadAttention, whose CPU kernel takes a flash-attention path (no seq x seq score matrix). Same weights, same math up to float rounding.",
    variant: 'attention',
  }),
  recipe({
    name: 'int8',
    version: 3,
    title: 'int8 weights (MatMul 8-bit blocks, Conv int8 per channel)',
    strategy: 'quantization',
    description:
      'MatMul weights as 8-bit MatMulNBits (int8 compute where the CPU has it), Conv weights and embeddings int8 with DequantizeLinear in front: about a quarter of the weights in memory. Often slower on CPUs without VNNI; the numbers decide.',
    variant: 'int8',
  }),
  recipe({
    name: 'int8-matmul',
    version: 1,
    title: 'int8 MatMul weights only',
    strategy: 'quantization',
    description:
      'Only the MatMul/Gemm weights as 8-bit MatMulNBits; Conv stays float32, so the speed cost of dequantizing Conv weights is not paid.',
    variant: 'int8-matmul',
  }),
  recipe({
    name: 'int4',
    version: 1,
    title: 'int4 MatMul weights, int8 Conv weights',
    strategy: 'quantization',
    description:
      'MatMul weights as 4-bit MatMulNBits (block 32), Conv weights int8: the smallest model. Quality is measured, never assumed.',
    variant: 'int4',
  }),
  recipe({
    name: 'int8-dynamic',
    version: 1,
    title: 'Dynamic int8 quantization (ORT classic)',
    strategy: 'quantization',
    description:
      "ONNX Runtime's classic DynamicQuantizeLinear + MatMulInteger form on MatMul weights, for comparison with MatMulNBits.",
    variant: 'int8-dynamic',
  }),
  recipe({
    name: 'mixed',
    version: 1,
    title: 'Mixed precision per component',
    strategy: 'quantization',
    description:
      'UNet: fused attention + 8-bit MatMul weights; text encoder: 8-bit MatMul weights; VAE decoder: float32 (where quantization shows most in the picture).',
    variant: 'mixed',
  }),
  recipe({
    name: 'fp16',
    version: 3,
    title: 'fp16 compute (GPU)',
    strategy: 'quantization',
    description:
      'UNet and text encoder compute in float16 with float32 edges; normalization and Resize stay float32 and the VAE decoder float32 (fp16 VAEs give black images). Pays on GPU providers; on the CPU provider it is slower.',
    variant: 'fp16',
  }),
  recipe({
    name: 'fp16-storage',
    version: 1,
    title: 'fp16 storage, fp32 compute',
    strategy: 'memory',
    description:
      'Weights stored as float16 and cast back to float32 when the model loads: half the disk and download, the same compute and pictures.',
    variant: 'fp16-storage',
  }),
  ...[2, 3, 5].map((n) =>
    recipe({
      name: `feature-cache-${n}`,
      version: 1,
      title: `UNet feature caching, full UNet every ${n} steps`,
      strategy: 'caching',
      description: `DeepCache, training-free: the full UNet runs every ${n}th step and hands its deep feature (at the shallowest skip connection) to a shallow UNet that runs the ${n - 1} step(s) in between: the stem, the first down layer and the last up layers only. The same scheduler, steps and weights; the deep features change little between adjacent steps, so the pictures stay close. Quality and speed are measured.`,
      variant: 'feature-cache',
      sampling: { featureCache: { interval: n, schedule: 'uniform' } },
    }),
  ),
  recipe({
    name: 'cfg-truncate',
    version: 1,
    title: 'Guidance only in the first 70% of the steps',
    strategy: 'caching',
    description:
      'Classifier-free guidance shapes the picture early; in the last steps it changes little (Kynkäänniemi et al. 2024, a limited guidance interval). The last 30% of the steps run the conditional prompt alone, one UNet row instead of two: up to half of their cost. Quality is measured.',
    sampling: { guidanceInterval: { start: 0, end: 0.7 } },
  }),
  LCM_LORA_RECIPE,
  DISTILLED_STEPS_RECIPE,
  // A different VAE decoder (optimize/tiny-vae.ts): 'memory' like vae-tiled, the other way to
  // change how the decode is done (not 'graph', whose recipes keep the same weights and math).
  recipe({
    name: 'tiny-vae',
    version: 1,
    title: 'Tiny VAE decoder (TAESD)',
    strategy: 'memory',
    description:
      "The VAE decoder replaced by a TAESD-family tiny decoder for the model's latent family, from <home>/vae/<name>/vae_decoder/ (about 1.2 M parameters against the SD VAE decoder's 49 M): the decode takes a fraction of the time and memory. It is a different decoder, so it changes the pictures (softer fine detail): they are measured against the baseline's like any recipe's. Only where such a decoder is present.",
    variant: 'tiny-vae',
  }),
];

/** Recipes that are gone, and why: a person's script that names one is told what happened. */
const RETIRED: Record<string, string> = {
  'graph-all-cached':
    'graph-all-cached is the default now: on the CPU every model caches its optimized graph after the first load; measure no-model-cache to see what the cache buys',
};

export function findRecipe(name: string, extra: readonly Recipe[] = []): Recipe {
  const found = [...extra, ...BUILTIN_RECIPES].find((r) => r.name === name);
  if (!found && RETIRED[name]) throw new StudioError(RETIRED[name], 'bad-input');
  if (!found) {
    throw new StudioError(
      `unknown recipe "${name}": use one of ${BUILTIN_RECIPES.map((r) => r.name).join(', ')}`,
      'bad-input',
    );
  }
  return found;
}

/** The RunConfig fields a recipe sets, with physical-core threads resolved for this machine. */
export function recipeRunConfig(recipe: Recipe, physicalCores: number): Partial<RunConfig> {
  const { intraOpThreads, ...rest } = recipe.runConfig;
  if (intraOpThreads === undefined) return rest;
  return {
    ...rest,
    intraOpThreads:
      intraOpThreads === 'physical-cores' ? Math.max(1, physicalCores) : intraOpThreads,
  };
}

/** Steps for one test case under a recipe. */
export function recipeSteps(recipe: Recipe, caseSteps: number): number {
  if (recipe.sampling.steps) return recipe.sampling.steps;
  if (recipe.sampling.stepsFactor)
    return Math.max(1, Math.ceil(caseSteps * recipe.sampling.stepsFactor));
  return caseSteps;
}
