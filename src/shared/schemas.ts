import { z } from 'zod';
import { LORA_PATH, MODEL_PATH, pathField } from './path-fields';

/** Every value the studio's API accepts or returns, as zod schemas: the one source of both runtime
 * validation (IPC, HTTP, CLI) and the static types the renderer and services share. */

export const EXECUTION_PROVIDERS = ['cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const;
export const ExecutionProviderSchema = z.enum(EXECUTION_PROVIDERS, {
  error: `unknown execution provider; use one of ${EXECUTION_PROVIDERS.join(', ')}`,
});
export type ExecutionProvider = z.infer<typeof ExecutionProviderSchema>;

export const SCHEDULER_NAMES = [
  'euler',
  'euler-a',
  'ddim',
  'pndm',
  'dpm++2m',
  'dpm++2m-karras',
  'lcm',
  'ddpm',
] as const;
export const SchedulerNameSchema = z.enum(SCHEDULER_NAMES, {
  error: `unknown scheduler; use one of ${SCHEDULER_NAMES.join(', ')}`,
});
export type SchedulerName = z.infer<typeof SchedulerNameSchema>;

/**
 * diffusers scheduler_config keys applied over a model's own (e.g. `timestep_spacing: trailing`, or
 * the DDIM `steps_offset` a step-distilled student was trained on): recipes, LoRA cards, requests.
 * One key is not a config key: `timesteps`, an explicit descending schedule (diffusers'
 * `set_timesteps(timesteps=…)`), for a student trained on a grid of its own; DDIM takes it.
 */
/**
 * UNet feature caching (DeepCache): the full UNet runs on every `interval`-th step and a shallow
 * UNet reuses its deep feature in between (`uniform`), or the full steps are placed denser around
 * the early-middle part of the trajectory (`center`, after the paper's non-uniform schedule).
 * Needs a model folder with `unet_shallow/` (the `feature-cache` variant); interval 1 = every step full.
 */
export const FeatureCacheSchema = z
  .object({
    interval: z.number().int().min(1).max(50),
    schedule: z.enum(['uniform', 'center']).default('uniform'),
  })
  .strict();
export type FeatureCache = z.input<typeof FeatureCacheSchema>;

/**
 * Classifier-free guidance only inside part of the trajectory (Kynkäänniemi et al. 2024, a limited
 * guidance interval): steps whose position i/steps lies in [start, end) run the unconditional and
 * conditional rows; the others run the conditional row alone (batch 1 instead of 2).
 */
export const GuidanceIntervalSchema = z
  .object({
    start: z.number().min(0).max(1),
    end: z.number().min(0).max(1),
  })
  .strict()
  .refine((g) => g.start < g.end, {
    message: 'start must be below end, e.g. {start: 0, end: 0.7}',
  });
export type GuidanceInterval = z.infer<typeof GuidanceIntervalSchema>;

export const SchedulerOverridesSchema = z
  .record(
    z.string(),
    z.union([z.string(), z.number(), z.boolean(), z.array(z.number().int().nonnegative())]),
  )
  .superRefine((overrides, ctx) => {
    for (const [key, value] of Object.entries(overrides)) {
      const list = Array.isArray(value);
      if (key === 'timesteps' && !list)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'timesteps must be a list of integers, e.g. [961, 921, 841]',
        });
      else if (key !== 'timesteps' && list)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `${key} takes one value; only timesteps is a list`,
        });
    }
  });
export type SchedulerOverrides = z.infer<typeof SchedulerOverridesSchema>;

export const HARDWARE_CLASSES = ['cpu-only', 'gpu-consumer', 'gpu-pro', 'apple-silicon'] as const;

export const ProviderProbeSchema = z.object({
  name: z.string(),
  /** Compiled into this onnxruntime-node build. */
  bundled: z.boolean(),
  /** A session on a tiny model was created and run with it here. */
  works: z.boolean(),
  error: z.string().optional(),
});
export type ProviderProbe = z.infer<typeof ProviderProbeSchema>;

export const HardwareInfoSchema = z.object({
  cpu: z.object({
    brand: z.string(),
    manufacturer: z.string(),
    cores: z.number().int(),
    physicalCores: z.number().int(),
    speedGHz: z.number(),
    flags: z.array(z.string()),
  }),
  memory: z.object({ totalMb: z.number(), availableMb: z.number() }),
  gpus: z.array(
    z.object({
      vendor: z.string(),
      model: z.string(),
      vramMb: z.number().nullable(),
    }),
  ),
  os: z.object({ platform: z.string(), distro: z.string(), release: z.string(), arch: z.string() }),
  ortVersion: z.string(),
  providers: z.array(ProviderProbeSchema),
  hardwareClass: z.enum(HARDWARE_CLASSES),
});
export type HardwareInfo = z.infer<typeof HardwareInfoSchema>;

export const HardwareRequestSchema = z
  .object({ refresh: z.boolean().default(false) })
  .strict()
  .prefault({});

export const MODEL_FAMILIES = ['sd1', 'sd2', 'sd-turbo', 'lcm', 'sdxl', 'unknown'] as const;
export const ModelSummarySchema = z.object({
  name: z.string(),
  path: z.string(),
  family: z.enum(MODEL_FAMILIES),
  /**
   * bundled: shipped with the studio; user: registered by path or imported; optimized: a variant the
   * studio built; downloaded: fetched from the Hub by the studio; hf-cache: found in the Hugging
   * Face cache (downloaded by another tool).
   */
  source: z.enum(['bundled', 'user', 'optimized', 'downloaded', 'hf-cache']),
  components: z.array(z.string()),
  sizeBytes: z.number(),
  /** Hub models: the repo id, the revision asked for and the commit on disk. */
  repo: z.string().optional(),
  revision: z.string().optional(),
  commit: z.string().optional(),
  /** Optimized variants: the folder of the model they were built from. */
  variantOf: z.string().optional(),
});
export type ModelSummary = z.infer<typeof ModelSummarySchema>;

const seedMax = 2 ** 32 - 1;
const dimension = z
  .number({ error: 'must be a number of pixels, e.g. 512' })
  .int('must be a whole number of pixels')
  .min(8, 'must be at least 8 pixels')
  .max(4096, 'must be at most 4096 pixels')
  .refine((v) => v % 8 === 0, 'must be a multiple of 8 (the VAE works on 8x8 pixel blocks)');

/** How strongly a LoRA is merged: 1 = as trained, 0 = not at all, negative = subtracted. */
export const LORA_SCALE_RANGE = { min: -4, max: 4 } as const;

export const LoraRequestSchema = z
  .object({
    path: pathField(z.string().min(1, 'name a .safetensors LoRA file'), LORA_PATH),
    scale: z
      .number()
      .min(
        LORA_SCALE_RANGE.min,
        `must be between ${LORA_SCALE_RANGE.min} and ${LORA_SCALE_RANGE.max} (1 = as trained)`,
      )
      .max(
        LORA_SCALE_RANGE.max,
        `must be between ${LORA_SCALE_RANGE.min} and ${LORA_SCALE_RANGE.max} (1 = as trained)`,
      )
      .default(1),
  })
  .strict();

export const GenerateRequestSchema = z
  .object({
    model: pathField(
      z.string().min(1, 'name a model folder or a known model such as tiny-shapes'),
      MODEL_PATH,
    ).default('tiny-shapes'),
    prompt: z.string().max(4000, 'is too long; keep it under 4000 characters').default(''),
    negativePrompt: z.string().max(4000, 'is too long; keep it under 4000 characters').default(''),
    steps: z
      .number()
      .int('must be a whole number of steps')
      .min(1, 'must be at least 1')
      .max(1000, 'must be at most 1000')
      .optional(),
    guidance: z
      .number()
      .min(0, 'must be 0 or more (0 turns guidance off)')
      .max(100, 'must be at most 100')
      .optional(),
    seed: z
      .number()
      .int('must be a whole number')
      .min(0, `must be between 0 and ${seedMax}`)
      .max(seedMax, `must be between 0 and ${seedMax}`)
      .optional(),
    scheduler: SchedulerNameSchema.optional(),
    width: dimension.optional(),
    height: dimension.optional(),
    batch: z.number().int().min(1, 'must be at least 1').max(16, 'must be at most 16').default(1),
    /** Absent: the profile's provider, else the best one that probes as working here. */
    ep: ExecutionProviderSchema.optional(),
    threads: z.number().int().min(0, 'must be 0 (automatic) or more').max(256).optional(),
    profile: z.string().optional(),
    /**
     * A catalogue recipe or a stack of them joined by `+` (`feature-cache-3+cfg-truncate`), applied
     * directly instead of a saved profile; its variant is built on first use.
     */
    recipe: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]*(\+[a-z0-9][a-z0-9.-]*)*$/, {
        message:
          'name a catalogue recipe, or several joined by "+", e.g. feature-cache-3+cfg-truncate',
      })
      .optional(),
    /** LoRAs merged into the model (a cached variant per model, LoRA contents and scales). */
    loras: z.array(LoraRequestSchema).max(8, 'merge at most 8 LoRAs at once').optional(),
    /** Chosen by the caller so it can match progress events to this request. */
    jobId: z.string().min(1).max(100).optional(),
  })
  .strict();
export type GenerateRequest = z.input<typeof GenerateRequestSchema>;

export const StageTimingsSchema = z.object({
  tokenize: z.number(),
  textEncoder: z.number(),
  unet: z.number(),
  unetPerStep: z.array(z.number()),
  vae: z.number(),
  total: z.number(),
  encode: z.number(),
  ort: z.number(),
  /** Session creation inside this generation (0 when the sessions were already loaded). */
  load: z.number(),
});
export type StageTimings = z.infer<typeof StageTimingsSchema>;

export const GeneratedImageSchema = z.object({
  path: z.string(),
  width: z.number(),
  height: z.number(),
  /** PNG as a data: URL, so every adapter (IPC, HTTP) shows it without file access. */
  dataUrl: z.string(),
});

export const GenerateResultSchema = z.object({
  jobId: z.string(),
  runId: z.number().int(),
  model: z.string(),
  seed: z.number().int(),
  steps: z.number().int(),
  guidance: z.number(),
  scheduler: z.string(),
  images: z.array(GeneratedImageSchema),
  timings: StageTimingsSchema,
  warnings: z.array(z.string()),
});
export type GenerateResult = z.infer<typeof GenerateResultSchema>;

export const CancelRequestSchema = z.object({ jobId: z.string().min(1) }).strict();

/**
 * A run's status: `cancelled` is a run a person stopped (Cancel, Ctrl+C), `interrupted` one whose
 * process died while it ran (found `running` by the next start), `failed` one that went wrong.
 */
export const RUN_STATUSES = ['running', 'done', 'failed', 'interrupted', 'cancelled'] as const;
export const HistoryRequestSchema = z
  .object({ limit: z.number().int().min(1).max(1000).default(50) })
  .strict()
  .prefault({});
export const HistoryEntrySchema = z.object({
  id: z.number().int(),
  kind: z.enum(['generate', 'bench']),
  status: z.enum(RUN_STATUSES),
  model: z.string(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  summary: z.string(),
  error: z.string().nullable(),
  images: z.array(z.string()),
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;

export const ProgressEventSchema = z.object({
  jobId: z.string(),
  /** `merge`: the request's LoRAs are being merged into a cached variant (first use only). */
  stage: z.enum(['merge', 'load', 'encode', 'denoise', 'decode', 'done']),
  step: z.number().int(),
  totalSteps: z.number().int(),
  /** What is happening, in words, where the stage alone does not say (the merge's progress). */
  message: z.string().optional(),
  /** A cheap RGB approximation of the current latents, as a PNG data: URL. */
  previewDataUrl: z.string().optional(),
});
export type ProgressEvent = z.infer<typeof ProgressEventSchema>;

export const OptimizeProgressSchema = z.object({
  jobId: z.string(),
  component: z.string(),
  phase: z.enum(['transform', 'write', 'check', 'copy', 'done']),
  fraction: z.number().min(0).max(1),
  message: z.string(),
});
export type OptimizeProgress = z.infer<typeof OptimizeProgressSchema>;

export const ReadImageRequestSchema = z
  .object({ path: z.string().min(1, 'give the image path from a run in the history') })
  .strict();

export const AppInfoSchema = z.object({
  appVersion: z.string(),
  ortVersion: z.string(),
  home: z.string(),
  nodeVersion: z.string(),
});
export type AppInfo = z.infer<typeof AppInfoSchema>;

export const MonitorSampleSchema = z.object({
  t: z.number(),
  /** System CPU (all cores): every process's load, 0-100. */
  cpuPercent: z.number(),
  /** Engine process CPU, as % of all logical cores (part of cpuPercent); null where unknown. */
  processCpuPercent: z.number().nullable(),
  ramUsedMb: z.number(),
  ramTotalMb: z.number(),
  /** The engine process when one runs, else the studio's own process. */
  processRssMb: z.number().nullable(),
  gpuPercent: z.number().nullable(),
  vramUsedMb: z.number().nullable(),
});
export type MonitorSample = z.infer<typeof MonitorSampleSchema>;
