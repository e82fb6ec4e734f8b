import { z } from 'zod';
import { ExecutionProviderSchema, RUN_STATUSES } from './schemas';

export const PRIORITIES = ['quality', 'balance', 'speed'] as const;
export const OBJECTIVES = ['latency', 'throughput'] as const;
export type Priority = (typeof PRIORITIES)[number];
/**
 * `model`: every case runs at the model's default steps and guidance, the settings a person
 * generates with (what a saved profile then changes); `cases`: each case keeps its own steps and
 * guidance (the classic benchmark's view).
 */
export const SETTINGS_FROM = ['model', 'cases'] as const;

export const BenchRequestSchema = z
  .object({
    model: z.string().min(1).default('tiny-shapes'),
    /** Recipe names; absent: the wizard's candidates for this machine, baseline included. */
    recipes: z
      .array(z.string().min(1))
      .min(1, 'name at least one recipe, or leave recipes out')
      .optional(),
    /** `auto`, `default` (the classic five prompts), `shapes`, or a JSON test-set file. */
    cases: z.string().min(1).default('auto'),
    repeats: z.number().int().min(1, 'must be at least 1').max(50).default(3),
    warmup: z.number().int().min(0).max(10).default(1),
    priority: z.enum(PRIORITIES).default('balance'),
    objective: z.enum(OBJECTIVES).default('latency'),
    settings: z.enum(SETTINGS_FROM).default('model'),
    /** After the single strategies, compose those that passed into tiers and measure each stack. */
    stack: z.boolean().default(true),
    /**
     * Run the baseline alternately with each candidate (ABBA, a second engine process) so drift on
     * the machine hits both sides of every pair; turned off on GPU providers and where the model
     * does not fit in memory twice.
     */
    interleave: z.boolean().default(true),
    /** Absent: the best execution provider that probes as working here. */
    ep: ExecutionProviderSchema.optional(),
    /** After measuring, run the first case once more with ORT profiling and keep the top operators. */
    profileOps: z.boolean().default(false),
    /** Run only the first N cases of the set (quick checks). */
    maxCases: z.number().int().min(1).optional(),
    /**
     * How long the run may take, minutes: the plan (repeats, cases, candidates) is trimmed to fit
     * it on this model and machine, from a short calibration (bench/budget.ts).
     */
    budgetMinutes: z
      .number()
      .min(1, 'must be at least 1 minute')
      .max(24 * 60, 'must be at most a day (1440 minutes)')
      .default(15),
    jobId: z.string().min(1).max(100).optional(),
  })
  .strict();
export type BenchRequest = z.input<typeof BenchRequestSchema>;

const LatencySchema = z.object({ mean: z.number(), std: z.number(), median: z.number() });

/**
 * Prompt adherence of a recipe's images (bench/adherence.ts, the model forge's metric), over the
 * cases whose prompt the shapes vocabulary understands (it names a shape: `isShapesPrompt`).
 */
export const AdherenceSchema = z.object({
  /** Share of those cases whose image passed every check the prompt asks (shape, colour, background). */
  allCorrect: z.number().min(0).max(1),
  /** Share of the single checks passed. */
  checksPassed: z.number().min(0).max(1),
  /** Cases judged. */
  cases: z.number().int().min(1),
});
export type RecipeAdherence = z.infer<typeof AdherenceSchema>;

export const RecipeOutcomeSchema = z.object({
  name: z.string(),
  title: z.string(),
  status: z.enum(['ok', 'failed']),
  error: z.string().optional(),
  latencyMs: LatencySchema.nullable(),
  stagesMs: z.record(z.string(), z.number()).nullable(),
  peakRssMb: z.number().nullable(),
  peakGpuMb: z.number().nullable().optional(),
  /**
   * Engine process CPU: its CPU time (user + system, measured inside the engine) over the time it
   * was running the recipe's cases, as % of the physical cores. Not system load.
   */
  cpuPercent: z.number().nullable(),
  ssim: z.number().nullable(),
  psnr: z.number().nullable(),
  speedup: z.number().nullable(),
  /** Null where no case's prompt is understood by the shapes vocabulary (absent on older runs). */
  adherence: AdherenceSchema.nullable().optional(),
  /** 95% interval of the paired speed-up (case by case against the baseline); null: too few runs. */
  speedupCi: z.tuple([z.number(), z.number()]).nullable().optional(),
  /** Session creation in the first (warm-up) run, ms: start-up cost. */
  loadMs: z.number().nullable().optional(),
  /** The first run end to end including session creation, ms: time to first image. */
  firstImageMs: z.number().nullable().optional(),
  /**
   * Session creation when a fresh engine starts again (caches warm: the OS file cache, ORT's
   * optimized-model cache where the recipe uses it), ms; measured for the baseline and cache recipes.
   */
  restartLoadMs: z.number().optional(),
  /** Stacked candidates: the tier and each composed strategy's contribution. */
  tier: z.enum(['basic', 'intermediate', 'advanced']).optional(),
  contributions: z
    .array(
      z.object({
        recipe: z.string(),
        /** The strategy's speed-up measured alone in this run. */
        speedupAlone: z.number().nullable(),
        /** Its share of the stack's speed-up, in log terms (log alone / log stack). */
        share: z.number().nullable(),
      }),
    )
    .optional(),
  verdict: z.string(),
  /**
   * Whether the latency comes from whole images measured end to end (true) or was composed from
   * stage timings (false). Every figure of today's runs is measured end to end.
   */
  measuredEndToEnd: z.boolean().optional(),
  /** 1-minute load average (os.loadavg) before and after the recipe's runs, and the logical cores. */
  loadAvg: z.object({ before: z.number(), after: z.number(), cores: z.number().int() }).optional(),
  /** How speedupCi was computed and on how many ratios. */
  speedupMethod: z
    .object({ method: z.enum(['pairs', 'repeats', 'cases', 'none']), n: z.number().int() })
    .optional(),
  /** With profileOps: the most expensive operator types per component, and the trace files. */
  topOps: z
    .array(
      z.object({
        component: z.string(),
        opType: z.string(),
        count: z.number(),
        totalMs: z.number(),
        percent: z.number(),
        traceFile: z.string().nullable(),
      }),
    )
    .optional(),
});
export type RecipeOutcome = z.infer<typeof RecipeOutcomeSchema>;

export const BenchResultSchema = z.object({
  runId: z.number().int(),
  model: z.string(),
  baseline: z.string(),
  testSet: z.string(),
  recipes: z.array(RecipeOutcomeSchema),
  recommended: z.string().nullable(),
  explanation: z.string(),
  skipped: z.array(z.object({ recipe: z.string(), reason: z.string() })),
  priority: z.enum(PRIORITIES).optional(),
  settings: z.enum(SETTINGS_FROM).optional(),
  ep: ExecutionProviderSchema.optional(),
  /** Whether each candidate's speed-up is against baseline runs interleaved with its own. */
  interleaved: z.boolean().optional(),
  /** The time budget the plan was fitted to, its prediction, and what the run took (seconds). */
  budgetSeconds: z.number().optional(),
  predictedSeconds: z.number().optional(),
  elapsedSeconds: z.number().optional(),
});
export type BenchResult = z.infer<typeof BenchResultSchema>;

/** `bench --plan-only`: what a run would measure and how long it is predicted to take. */
export const BenchPlanSchema = z.object({
  plan: z.object({
    budgetSeconds: z.number(),
    predictedSeconds: z.number(),
    phases: z.array(
      z.object({
        name: z.enum(['calibrate', 'build', 'baseline', 'candidates', 'stacks']),
        predictedSeconds: z.number(),
      }),
    ),
    candidates: z.array(z.string()),
    cases: z.number().int(),
    repeats: z.number().int(),
    warmup: z.number().int(),
    dropped: z.array(z.object({ recipe: z.string(), reason: z.string() })),
    /** The default plan's prediction before it was trimmed to the budget. */
    untrimmedSeconds: z.number(),
    /** What the calibration measured on this model and machine, ms. */
    calibration: z.object({
      loadMs: z.number(),
      textEncoderMs: z.number(),
      unetStepMs: z.number(),
      firstStepMs: z.number(),
      vaeMs: z.number(),
      steps: z.number().int(),
    }),
  }),
});
export type BenchPlanResult = z.infer<typeof BenchPlanSchema>;

export const BenchProgressSchema = z.object({
  jobId: z.string(),
  runId: z.number().int(),
  recipe: z.string(),
  recipeIndex: z.number().int(),
  recipeCount: z.number().int(),
  caseIndex: z.number().int(),
  caseCount: z.number().int(),
  /** `cancelled`: the recipe being measured when the run was cancelled (it never finished). */
  phase: z.enum([
    'prepare',
    'warmup',
    'measure',
    'quality',
    'profile',
    'done',
    'failed',
    'cancelled',
  ]),
  /** While a variant is prepared: what the optimizer does, and how far (0..1). */
  message: z.string().optional(),
  fraction: z.number().optional(),
});
export type BenchProgress = z.infer<typeof BenchProgressSchema>;

export const RunRequestSchema = z.object({ runId: z.number().int().positive() }).strict();
export const CompareRequestSchema = z
  .object({ runA: z.number().int().positive(), runB: z.number().int().positive() })
  .strict();

export const CaseDetailSchema = z.object({
  caseIndex: z.number().int(),
  prompt: z.string(),
  seed: z.number().int(),
  steps: z.number().int(),
  guidance: z.number(),
  latencyMs: LatencySchema,
  stagesMs: z.record(z.string(), z.number()),
  imagePath: z.string().nullable(),
  heatmapPath: z.string().nullable(),
  ssim: z.number().nullable(),
  psnr: z.number().nullable(),
});

export const RunDetailSchema = z.object({
  id: z.number().int(),
  status: z.enum(RUN_STATUSES),
  model: z.string(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  error: z.string().nullable(),
  recommended: z.string().nullable(),
  explanation: z.string().nullable(),
  /** Recipes the wizard wanted but did not run, with the reason (runs before v2: empty). */
  skipped: z.array(z.object({ recipe: z.string(), reason: z.string() })).optional(),
  recipes: z.array(
    RecipeOutcomeSchema.extend({
      cases: z.array(CaseDetailSchema),
      findings: z.array(z.unknown()),
    }),
  ),
});
export type RunDetail = z.infer<typeof RunDetailSchema>;

export const CompareResultSchema = z.object({
  runA: z.number().int(),
  runB: z.number().int(),
  recipes: z.array(
    z.object({
      name: z.string(),
      latencyA: z.number().nullable(),
      latencyB: z.number().nullable(),
      /** latencyA / latencyB: above 1 means run B is faster. */
      speedup: z.number().nullable(),
      memoryDeltaMb: z.number().nullable(),
      ssimA: z.number().nullable(),
      ssimB: z.number().nullable(),
      /** Share of cases drawn as the prompt asks (adherence.allCorrect), where measured. */
      adherenceA: z.number().nullable().optional(),
      adherenceB: z.number().nullable().optional(),
      cases: z.array(
        z.object({
          caseIndex: z.number().int(),
          prompt: z.string(),
          speedup: z.number().nullable(),
        }),
      ),
    }),
  ),
});
export type CompareResult = z.infer<typeof CompareResultSchema>;

export const ExportedFileSchema = z.object({
  filename: z.string(),
  mimeType: z.string(),
  content: z.string(),
});
export type ExportedFile = z.infer<typeof ExportedFileSchema>;
