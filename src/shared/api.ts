import { z } from 'zod';
import {
  CancelRequestSchema,
  GenerateRequestSchema,
  LoraRequestSchema,
  GenerateResultSchema,
  HardwareInfoSchema,
  HardwareRequestSchema,
  HistoryEntrySchema,
  HistoryRequestSchema,
  ModelSummarySchema,
  ProgressEventSchema,
  OptimizeProgressSchema,
  ReadImageRequestSchema,
  AppInfoSchema,
  MonitorSampleSchema,
} from './schemas';
import {
  BenchProgressSchema,
  BenchPlanSchema,
  BenchRequestSchema,
  BenchResultSchema,
  CompareRequestSchema,
  CompareResultSchema,
  OBJECTIVES,
  PRIORITIES,
  RunDetailSchema,
  RunRequestSchema,
  ExportedFileSchema,
} from './bench-schemas';
import {
  CatalogueSchema,
  DownloadPlanSchema,
  DownloadProgressSchema,
  DownloadRequestSchema,
  DownloadResultSchema,
  FitReportSchema,
  FitRequestSchema,
  HubTokenStatusSchema,
} from './hub-schemas';
import { ListLorasRequestSchema, LoraSummarySchema } from './lora-schemas';
import {
  DeleteRunRequestSchema,
  DeleteRunResultSchema,
  ImageListSchema,
  ListImagesRequestSchema,
  ListProfilesRequestSchema,
  PreviewProfileRequestSchema,
  PreviewProfileSchema,
  ProfileSummarySchema,
} from './library-schemas';
import type { EventName, MethodName } from './channels';
import { MODEL_PATH, pathField } from './path-fields';

export { EVENT_NAMES, METHOD_NAMES, ipcChannel, ipcEventChannel } from './channels';
export type { EventName, MethodName } from './channels';

interface MethodSpec {
  input: z.ZodType;
  output: z.ZodType;
}

/**
 * The StudioApi: every call and event the UI can use, as data. The Electron preload, the ipcMain
 * handlers, the web host's routes and the renderer's clients are all generated from these two
 * tables, so an adapter cannot drift from the services (the VS Code ProxyChannel idea).
 */
export const studioMethods = {
  getHardware: { input: HardwareRequestSchema, output: HardwareInfoSchema },
  listModels: { input: z.object({}).strict().prefault({}), output: z.array(ModelSummarySchema) },
  generate: { input: GenerateRequestSchema, output: GenerateResultSchema },
  cancelGenerate: { input: CancelRequestSchema, output: z.object({ cancelled: z.boolean() }) },
  getHistory: { input: HistoryRequestSchema, output: z.array(HistoryEntrySchema) },
  readImage: { input: ReadImageRequestSchema, output: z.object({ dataUrl: z.string() }) },
  getAppInfo: { input: z.object({}).strict().prefault({}), output: AppInfoSchema },
  proposeRecipes: {
    input: z
      .object({
        model: pathField(z.string().min(1), MODEL_PATH).default('tiny-shapes'),
        priority: z.enum(PRIORITIES).default('balance'),
        objective: z.enum(OBJECTIVES).default('latency'),
      })
      .strict()
      .prefault({}),
    output: z.object({
      hardwareClass: z.string(),
      recipes: z.array(
        z.object({
          name: z.string(),
          title: z.string(),
          strategy: z.string(),
          description: z.string(),
        }),
      ),
      skipped: z.array(z.object({ recipe: z.string(), reason: z.string() })),
      /** Recipes that can run here but were left out by the wizard's cap: they can be ticked in. */
      more: z.array(
        z.object({
          name: z.string(),
          title: z.string(),
          strategy: z.string(),
          description: z.string(),
        }),
      ),
    }),
  },
  runBenchmark: { input: BenchRequestSchema, output: BenchResultSchema },
  /** What runBenchmark would measure and how long it is predicted to take (a short calibration). */
  planBenchmark: { input: BenchRequestSchema, output: BenchPlanSchema },
  cancelBenchmark: { input: CancelRequestSchema, output: z.object({ cancelled: z.boolean() }) },
  getRun: { input: RunRequestSchema, output: RunDetailSchema },
  compareRuns: { input: CompareRequestSchema, output: CompareResultSchema },
  saveProfile: {
    input: z
      .object({
        runId: z.number().int().positive(),
        /** Default: the run's recommended recipe. */
        recipe: z.string().min(1).optional(),
        name: z.string().min(1).max(100).optional(),
        makeDefault: z.boolean().default(true),
        /**
         * Save a recipe whose images failed the quality check against the baseline (a distilled
         * recipe's different pixels, a degraded one): refused unless the caller says it knows.
         */
        acknowledgeQuality: z.boolean().default(false),
      })
      .strict(),
    output: z.object({
      name: z.string(),
      model: z.string(),
      recipe: z.string(),
      isDefault: z.boolean(),
    }),
  },
  /** Starts or stops the 1 Hz hardware sampler that streams `monitorSample` events. */
  setMonitoring: {
    input: z.object({ on: z.boolean() }).strict(),
    output: z.object({ on: z.boolean() }),
  },
  /** A benchmark run as a JSON or CSV document (the caller saves it). */
  exportRun: {
    input: z
      .object({
        runId: z.number().int().positive(),
        format: z.enum(['json', 'csv']).default('json'),
      })
      .strict(),
    output: ExportedFileSchema,
  },
  /** Two runs as an SVG bar chart of latency per recipe. */
  exportComparison: { input: CompareRequestSchema, output: ExportedFileSchema },
  /** One recipe's mean latency and quality on one model over time. */
  getTrend: {
    input: z
      .object({
        model: pathField(z.string().min(1), MODEL_PATH).default('tiny-shapes'),
        recipe: z.string().min(1).default('baseline'),
      })
      .strict(),
    output: z.array(
      z.object({
        runId: z.number().int(),
        startedAt: z.string(),
        latencyMean: z.number(),
        ssim: z.number().nullable(),
      }),
    ),
  },
  /**
   * Every image the studio made (generations and benchmark cases, each case beside the baseline's
   * image of the same case, with its heatmap and quality figures), filterable, newest run first.
   */
  listImages: { input: ListImagesRequestSchema, output: ImageListSchema },
  /** Deletes a run (not a running one), its figures and its image files. */
  deleteRun: { input: DeleteRunRequestSchema, output: DeleteRunResultSchema },
  /** Saved optimization profiles (default first), each with what it changes. */
  listProfiles: { input: ListProfilesRequestSchema, output: z.array(ProfileSummarySchema) },
  /** What saving a run's recipe as the default profile would change, before it is saved. */
  previewProfile: { input: PreviewProfileRequestSchema, output: PreviewProfileSchema },
  /**
   * Writes an optimized copy of a model (default: the variant store, `<home>/models/<model>--<recipe>`),
   * in the optimize worker; progress arrives as `optimizeProgress` events with the same jobId.
   */
  optimizeModel: {
    input: z
      .object({
        model: pathField(z.string().min(1), MODEL_PATH).default('tiny-shapes'),
        recipe: z.string().min(1, 'name an optimize recipe, e.g. int8 or attention'),
        /** A new folder, or one the studio wrote (holding its latent-studio.json) with `force`. */
        out: pathField(z.string().min(1), { kind: 'output' }).optional(),
        force: z.boolean().default(false),
        /** LoRAs merged before the recipe's transforms (recipe `lora`: the merge alone). */
        loras: z.array(LoraRequestSchema).max(8, 'merge at most 8 LoRAs at once').optional(),
        jobId: z.string().min(1).max(100).optional(),
      })
      .strict(),
    output: z.object({
      outDir: z.string(),
      components: z.array(z.string()),
      summary: z.array(
        z.object({
          component: z.string(),
          transforms: z.array(z.string()),
          changed: z.number(),
          bytesBefore: z.number(),
          bytesAfter: z.number(),
          cosine: z.number().nullable(),
          maxAbsDiff: z.number().nullable(),
        }),
      ),
      transformMs: z.number(),
    }),
  },
  /** The optimizer's recipes, for pickers: name, what it does, where it pays. */
  listOptimizeRecipes: {
    input: z.object({}).strict().prefault({}),
    output: z.array(
      z.object({
        name: z.string(),
        description: z.string(),
        pays: z.enum(['cpu', 'gpu', 'any']),
        components: z.record(z.string(), z.array(z.string())),
      }),
    ),
  },
  /** Stops an optimization in progress; its partial output is removed. */
  cancelOptimize: {
    input: z
      .object({ jobId: z.string().min(1, 'give the jobId passed to optimizeModel') })
      .strict(),
    output: z.object({ cancelled: z.boolean() }),
  },
  /** Adds a model folder anywhere on disk to the known models, by path (nothing is copied). */
  registerModel: {
    input: z
      .object({
        path: pathField(z.string().min(1, 'give the folder of an ONNX Stable Diffusion export'), {
          kind: 'folder',
        }),
        name: z.string().min(1).max(100).optional(),
      })
      .strict(),
    output: ModelSummarySchema,
  },
  unregisterModel: {
    input: z.object({ name: z.string().min(1) }).strict(),
    output: z.object({ removed: z.boolean() }),
  },
  /** Lists a Hub repo and says what downloading its ONNX pipeline would fetch (nothing is written). */
  planModelDownload: {
    input: DownloadRequestSchema.omit({ jobId: true }),
    output: DownloadPlanSchema,
  },
  /**
   * Downloads a Hub repo's ONNX pipeline into the HF cache and registers it as `owner/name`;
   * progress arrives as `modelDownloadProgress` events with the same jobId. A cancelled or broken
   * download resumes from its partial files when asked again.
   */
  downloadModel: { input: DownloadRequestSchema, output: DownloadResultSchema },
  /** Stops a download (by jobId or repo id); its partial files stay for resuming. */
  cancelModelDownload: {
    input: z.object({ jobId: z.string().min(1, 'give the jobId or the repo id') }).strict(),
    output: z.object({ cancelled: z.boolean() }),
  },
  /** Downloads in progress, with their latest progress. */
  listDownloads: {
    input: z.object({}).strict().prefault({}),
    output: z.array(DownloadProgressSchema),
  },
  /** Deletes a downloaded model's files or an optimized variant (never a folder registered by path). */
  deleteModel: {
    input: z.object({ name: z.string().min(1) }).strict(),
    output: z.object({ removed: z.boolean(), freedBytes: z.number() }),
  },
  /** Will it fit: weights against RAM (CPU) or GPU memory, and the recipes that would make it fit. */
  checkFit: { input: FitRequestSchema, output: FitReportSchema },
  /** The curated list of well-known ONNX exports on the Hub. */
  getCatalogue: { input: z.object({}).strict().prefault({}), output: CatalogueSchema },
  /**
   * Stores a Hugging Face token encrypted by the OS (Electron's safeStorage; never plain text, never
   * in the database); null forgets it. HF_TOKEN in the environment wins over a stored token.
   */
  setHubToken: {
    input: z.object({ token: z.string().min(1).max(200).nullable() }).strict(),
    output: HubTokenStatusSchema,
  },
  /** Where the Hub token comes from (never the token itself). */
  getHubTokenStatus: { input: z.object({}).strict().prefault({}), output: HubTokenStatusSchema },
  /**
   * The LoRAs that can be picked for a model: bundled ones whose card names it, and the person's own
   * in `<home>/loras/` (carded for this model or its family, or bare `.safetensors`), each with an
   * `id` a generate request's `loras[].path` may carry instead of a file path, and its card's
   * recommended scale, scheduler, steps and guidance.
   */
  listLoras: { input: ListLorasRequestSchema, output: z.array(LoraSummarySchema) },
} as const satisfies Record<MethodName, MethodSpec>;

// The benchmark request's path fields (the schema is in bench-schemas.ts).
pathField(BenchRequestSchema.shape.model, MODEL_PATH);
pathField(BenchRequestSchema.shape.cases, { kind: 'file', alias: 'cases' });

export const studioEvents = {
  generateProgress: ProgressEventSchema,
  benchProgress: BenchProgressSchema,
  monitorSample: MonitorSampleSchema,
  optimizeProgress: OptimizeProgressSchema,
  modelDownloadProgress: DownloadProgressSchema,
} as const satisfies Record<EventName, z.ZodType>;

export type MethodInput<M extends MethodName> = z.input<(typeof studioMethods)[M]['input']>;
export type ParsedInput<M extends MethodName> = z.output<(typeof studioMethods)[M]['input']>;
export type MethodOutput<M extends MethodName> = z.output<(typeof studioMethods)[M]['output']>;
export type EventPayload<E extends EventName> = z.output<(typeof studioEvents)[E]>;

/** What a caller (the renderer, a test) sees. Inputs may omit fields that have defaults. */
export type StudioApi = {
  [M in MethodName]: (input?: MethodInput<M>) => Promise<MethodOutput<M>>;
} & {
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
};

/** What the services implement: inputs arrive already validated, with defaults applied. */
export type StudioHandlers = {
  [M in MethodName]: (input: ParsedInput<M>) => Promise<MethodOutput<M>>;
};

// Both directions: every listed name has a table entry (satisfies above) and every entry is listed.
type Unlisted =
  Exclude<keyof typeof studioMethods, MethodName> | Exclude<keyof typeof studioEvents, EventName>;
const _allListed: [Unlisted] extends [never] ? true : never = true;
void _allListed;

export function isMethodName(name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(studioMethods, name);
}
