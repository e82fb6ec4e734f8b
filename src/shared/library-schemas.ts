import { z } from 'zod';

/**
 * The studio's own output as a library: every image it made (generations and benchmark cases, the
 * latter paired with the baseline image of the same case), saved profiles, and deleting a run.
 */

export const ListImagesRequestSchema = z
  .object({
    kind: z.enum(['generate', 'bench']).optional(),
    runId: z.number().int().positive().optional(),
    model: z.string().min(1).optional(),
    recipe: z.string().min(1).optional(),
    caseIndex: z.number().int().min(0).optional(),
    /** Newest runs first; at most this many images. */
    limit: z.number().int().min(1).max(5000).default(500),
  })
  .strict()
  .prefault({});

export const GalleryImageSchema = z.object({
  /** Stable key: `g<imageId>` for a generation, `b<runId>-<recipe>-<case>` for a benchmark case. */
  id: z.string(),
  kind: z.enum(['generate', 'bench']),
  runId: z.number().int(),
  model: z.string(),
  createdAt: z.string(),
  path: z.string(),
  prompt: z.string(),
  seed: z.number().int().nullable(),
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
  /** Benchmark cases only (null for generations). */
  recipe: z.string().nullable(),
  caseIndex: z.number().int().nullable(),
  latencyMs: z.number().nullable(),
  /** The baseline image of the same run and case (null for the baseline itself and generations). */
  baselinePath: z.string().nullable(),
  baselineRecipe: z.string().nullable(),
  heatmapPath: z.string().nullable(),
  ssim: z.number().nullable(),
  psnr: z.number().nullable(),
  verdict: z.string().nullable(),
});
export type GalleryImage = z.infer<typeof GalleryImageSchema>;

/** The limits the benchmark judges image quality by, so every view colours them the same way. */
export const QualityThresholdsSchema = z.object({
  /** SSIM above this (and PSNR above psnrAcceptableDb): acceptable. */
  ssimAcceptable: z.number(),
  psnrAcceptableDb: z.number(),
  /** SSIM below this: over-optimized (the image changed, not just its noise). */
  ssimOverOptimized: z.number(),
});
export type QualityThresholds = z.infer<typeof QualityThresholdsSchema>;

export const ImageListSchema = z.object({
  images: z.array(GalleryImageSchema),
  thresholds: QualityThresholdsSchema,
  /** Every value each filter can take over the whole library (not only the images returned). */
  facets: z.object({
    runs: z.array(z.object({ id: z.number().int(), kind: z.enum(['generate', 'bench']) })),
    models: z.array(z.string()),
    recipes: z.array(z.string()),
    cases: z.array(z.number().int()),
  }),
});
export type ImageList = z.infer<typeof ImageListSchema>;

export const DeleteRunRequestSchema = z
  .object({ runId: z.number().int().positive('give a run id from the history') })
  .strict();
export const DeleteRunResultSchema = z.object({
  deleted: z.boolean(),
  /** Image files removed from disk (generated images, benchmark cases and their heatmaps). */
  imagesRemoved: z.number().int(),
});

export const ProfileSummarySchema = z.object({
  name: z.string(),
  model: z.string(),
  recipe: z.string(),
  isDefault: z.boolean(),
  createdAt: z.string(),
  sourceRunId: z.number().int().nullable(),
  ep: z.string().nullable(),
  /** The measured speed-up it promises and its 95% interval, when the benchmark had one. */
  speedup: z.number().nullable(),
  speedupCi: z.tuple([z.number(), z.number()]).nullable(),
  /** What applying it changes against the model's own settings, one plain sentence each. */
  changes: z.array(z.string()),
});
export type ProfileSummary = z.infer<typeof ProfileSummarySchema>;

export const ListProfilesRequestSchema = z
  .object({ model: z.string().min(1).optional() })
  .strict()
  .prefault({});

export const PreviewProfileRequestSchema = z
  .object({
    runId: z.number().int().positive(),
    /** Default: the run's recommended recipe. */
    recipe: z.string().min(1).optional(),
  })
  .strict();
export const PreviewProfileSchema = z.object({
  model: z.string(),
  recipe: z.string(),
  ep: z.string().nullable(),
  changes: z.array(z.string()),
  /** The model's current default profile, which saving would replace (null: none). */
  replaces: z.string().nullable(),
});
