import { z } from 'zod';
import { EXECUTION_PROVIDERS, MODEL_FAMILIES } from './schemas';
import { MODEL_PATH, pathField } from './path-fields';

/**
 * The model library's API shapes: Hugging Face Hub downloads, the catalogue, fit checks. Pure zod,
 * shared by the services, the adapters and the renderer.
 */

/** `owner/name`, as the Hub spells repo ids (no `..`, no `--`, no leading dot or dash). */
export const REPO_ID_PATTERN = /^[A-Za-z0-9][\w.-]{0,95}\/[A-Za-z0-9][\w.-]{0,95}$/;

const repoField = z
  .string()
  .min(1, 'give a Hub repo id such as owner/name')
  .max(200, 'is too long for a Hub repo id')
  .describe('owner/name, optionally owner/name@revision');

export const DownloadRequestSchema = z
  .object({
    /** `owner/name` or `owner/name@revision`. */
    repo: repoField,
    /** Branch, tag or commit; overrides an `@revision` in `repo`. Default `main`. */
    revision: z.string().min(1).max(200).optional(),
    /** The folder inside the repo that holds the ONNX pipeline (e.g. `onnx`). */
    subfolder: z.string().min(1).max(200).optional(),
    jobId: z.string().min(1).max(100).optional(),
  })
  .strict();
export type DownloadRequest = z.input<typeof DownloadRequestSchema>;

export const FIT_VERDICTS = ['fits', 'fits-sequential', 'too-large'] as const;

export const FitReportSchema = z.object({
  /** Where the weights would live: RAM for the CPU provider, the GPU's memory otherwise. */
  device: z.enum(['cpu', 'gpu']),
  ep: z.enum(EXECUTION_PROVIDERS),
  weightsBytes: z.number(),
  largestComponentBytes: z.number(),
  /** Memory the studio may plan with on that device (MiB); null when it is unknown (GPU memory not reported). */
  budgetMb: z.number().nullable(),
  verdict: z.enum(FIT_VERDICTS),
  /** One sentence a person can act on. */
  explanation: z.string(),
  /** Wizard recipes that would bring the model under the budget, with the estimate for each. */
  recipes: z.array(
    z.object({
      recipe: z.enum(['sequential', 'int8', 'int4']),
      estimatedBytes: z.number(),
      verdict: z.enum(FIT_VERDICTS),
    }),
  ),
});
export type FitReport = z.infer<typeof FitReportSchema>;

export const PlannedFileSchema = z.object({
  path: z.string(),
  size: z.number(),
  /** Already complete in the cache (nothing to fetch). */
  cached: z.boolean(),
  /** Bytes of a partial download that will be resumed. */
  partialBytes: z.number(),
});

export const DownloadPlanSchema = z.object({
  repo: z.string(),
  revision: z.string(),
  commit: z.string(),
  subfolder: z.string().nullable(),
  gated: z.union([z.literal(false), z.string()]),
  files: z.array(PlannedFileSchema),
  totalBytes: z.number(),
  /** Bytes still to fetch (total less what is cached or partially downloaded). */
  neededBytes: z.number(),
  freeBytes: z.number(),
  cacheDir: z.string(),
  /** Files of the repo that will not be fetched (PyTorch weights, docs...). */
  skipped: z.number(),
  fit: FitReportSchema,
});
export type DownloadPlan = z.infer<typeof DownloadPlanSchema>;

export const DownloadResultSchema = z.object({
  jobId: z.string(),
  name: z.string(),
  path: z.string(),
  family: z.enum(MODEL_FAMILIES),
  commit: z.string(),
  downloadedBytes: z.number(),
  reusedBytes: z.number(),
  files: z.number(),
});

export const DOWNLOAD_PHASES = [
  'listing',
  'downloading',
  'verifying',
  'done',
  'failed',
  'cancelled',
] as const;

export const DownloadProgressSchema = z.object({
  jobId: z.string(),
  repo: z.string(),
  phase: z.enum(DOWNLOAD_PHASES),
  file: z.string().nullable(),
  fileBytes: z.number(),
  fileTotal: z.number(),
  bytes: z.number(),
  total: z.number(),
  filesDone: z.number(),
  filesTotal: z.number(),
  /** Bytes per second over the last few seconds. */
  rateBps: z.number(),
  /** Seconds left at that rate; null before a rate is known. */
  etaSeconds: z.number().nullable(),
  message: z.string().optional(),
});
export type DownloadProgress = z.infer<typeof DownloadProgressSchema>;

export const CatalogueEntrySchema = z.object({
  id: z.string(),
  title: z.string(),
  repo: z.string().regex(REPO_ID_PATTERN),
  revision: z.string().default('main'),
  subfolder: z.string().nullable().default(null),
  family: z.enum(MODEL_FAMILIES),
  sizeBytes: z.number().positive(),
  licence: z.string(),
  steps: z.number().int().positive(),
  guidance: z.number().min(0),
  /** The Hub asks a person to accept the licence before files can be downloaded. */
  gated: z.boolean(),
  notes: z.string(),
});
export type CatalogueEntry = z.infer<typeof CatalogueEntrySchema>;

export const CatalogueSchema = z.object({
  /** The entries were written from public model cards; none could be reached from the development machines. */
  verified: z.boolean(),
  entries: z.array(CatalogueEntrySchema),
});

export const FitRequestSchema = z
  .object({
    /** A known model or folder; or give the sizes of one not yet downloaded. */
    model: pathField(z.string().min(1), MODEL_PATH).optional(),
    weightsBytes: z.number().positive().optional(),
    largestComponentBytes: z.number().positive().optional(),
    ep: z.enum(EXECUTION_PROVIDERS).optional(),
  })
  .strict()
  .refine((v) => v.model !== undefined || v.weightsBytes !== undefined, {
    message: 'give a model, or weightsBytes for one not yet downloaded',
  });

export const HubTokenStatusSchema = z.object({
  /** env: HF_TOKEN; stored: entered in the app, kept encrypted by the OS; none. */
  source: z.enum(['env', 'stored', 'none']),
  /** This studio can keep a token (the desktop app, where the OS keychain is available). */
  canStore: z.boolean(),
});
