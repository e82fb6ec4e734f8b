import { existsSync, rmSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { z } from 'zod';
import type { ParsedInput } from '../../shared/api';
import { StudioError } from '../../shared/errors';
import { describeSchedulerOverrides } from '../../shared/scheduler-overrides';
import type {
  GalleryImage,
  ImageList,
  PreviewProfileSchema,
  ProfileSummary,
} from '../../shared/library-schemas';
import { RecipeSchema, recipeSteps, type Recipe } from '../bench/recipes';
import { PSNR_ACCEPTABLE_DB, SSIM_ACCEPTABLE, SSIM_OVER_OPTIMIZED } from '../bench/quality';
import { modelDefaults, parseProfile, ProfileSchema } from '../profiles/profile';
import type { Db } from '../store/database';

interface GeneratedRow {
  image_id: number;
  run_id: number;
  path: string;
  width: number;
  height: number;
  seed: number | null;
  model: string;
  started_at: string;
  summary: string;
}

interface CaseRow {
  run_id: number;
  model: string;
  started_at: string;
  recipe: string;
  position: number;
  verdict: string | null;
  case_index: number;
  prompt: string;
  seed: number;
  latency_mean: number;
  image_path: string;
  heatmap_path: string | null;
  ssim: number | null;
  psnr: number | null;
  baseline_recipe: string | null;
  baseline_path: string | null;
}

/**
 * The studio's output as a library: every image it made with what made it (the Gallery), the saved
 * profiles with what each changes, and deleting a run with its images. Reads the store directly;
 * writes only to delete.
 */
export class LibraryService {
  constructor(
    private readonly deps: {
      home: string;
      db: Db;
      /** The folder of a model by name (for its default steps); undefined when it is gone. */
      modelDir: (name: string) => string | undefined;
    },
  ) {}

  images(input: ParsedInput<'listImages'>): ImageList {
    const all = [...this.generatedImages(), ...this.caseImages()].sort(
      (a, b) => b.runId - a.runId || 0,
    );
    const images = all
      .filter(
        (i) =>
          (input.kind === undefined || i.kind === input.kind) &&
          (input.runId === undefined || i.runId === input.runId) &&
          (input.model === undefined || i.model === input.model) &&
          (input.recipe === undefined || i.recipe === input.recipe) &&
          (input.caseIndex === undefined || i.caseIndex === input.caseIndex),
      )
      .slice(0, input.limit);
    const runs = new Map<number, GalleryImage['kind']>();
    for (const i of all) runs.set(i.runId, i.kind);
    const unique = <T>(values: (T | null)[]): T[] =>
      [...new Set(values.filter((v): v is T => v !== null))].sort();
    return {
      images,
      thresholds: {
        ssimAcceptable: SSIM_ACCEPTABLE,
        psnrAcceptableDb: PSNR_ACCEPTABLE_DB,
        ssimOverOptimized: SSIM_OVER_OPTIMIZED,
      },
      facets: {
        runs: [...runs].map(([id, kind]) => ({ id, kind })),
        models: unique(all.map((i) => i.model)),
        recipes: unique(all.map((i) => i.recipe)),
        cases: unique(all.map((i) => i.caseIndex)).sort((a, b) => a - b),
      },
    };
  }

  private generatedImages(): GalleryImage[] {
    const rows = this.deps.db
      .prepare(
        `SELECT i.id AS image_id, i.run_id, i.path, i.width, i.height, i.seed, r.model, r.started_at, r.summary
         FROM images i JOIN runs r ON r.id = i.run_id WHERE r.kind = 'generate' ORDER BY i.run_id DESC, i.id`,
      )
      .all() as GeneratedRow[];
    return rows.map((r) => ({
      id: `g${r.image_id}`,
      kind: 'generate',
      runId: r.run_id,
      model: r.model,
      createdAt: r.started_at,
      path: r.path,
      prompt: r.summary,
      seed: r.seed,
      width: r.width,
      height: r.height,
      recipe: null,
      caseIndex: null,
      latencyMs: null,
      baselinePath: null,
      baselineRecipe: null,
      heatmapPath: null,
      ssim: null,
      psnr: null,
      verdict: null,
    }));
  }

  /** Every benchmark case with an image, beside the baseline's image of the same run and case. */
  private caseImages(): GalleryImage[] {
    const rows = this.deps.db
      .prepare(
        `SELECT r.id AS run_id, r.model, r.started_at, rr.recipe, rr.position, rr.verdict,
                cr.case_index, cr.prompt, cr.seed, cr.latency_mean, cr.image_path, cr.heatmap_path,
                cr.ssim, cr.psnr, b.recipe AS baseline_recipe, bc.image_path AS baseline_path
         FROM case_results cr
         JOIN recipe_results rr ON rr.id = cr.recipe_result_id
         JOIN runs r ON r.id = rr.run_id
         LEFT JOIN recipe_results b ON b.run_id = rr.run_id AND b.position = 0 AND rr.position > 0
         LEFT JOIN case_results bc ON bc.recipe_result_id = b.id AND bc.case_index = cr.case_index
         WHERE r.kind = 'bench' AND cr.image_path IS NOT NULL
         ORDER BY r.id DESC, rr.position, cr.case_index`,
      )
      .all() as CaseRow[];
    return rows.map((r) => ({
      id: `b${r.run_id}-${r.recipe}-${r.case_index}`,
      kind: 'bench',
      runId: r.run_id,
      model: r.model,
      createdAt: r.started_at,
      path: r.image_path,
      prompt: r.prompt,
      seed: r.seed,
      width: null,
      height: null,
      recipe: r.recipe,
      caseIndex: r.case_index,
      latencyMs: r.latency_mean,
      baselinePath: r.baseline_path,
      baselineRecipe: r.baseline_path ? r.baseline_recipe : null,
      heatmapPath: r.heatmap_path,
      ssim: r.ssim,
      psnr: r.psnr,
      verdict: r.verdict,
    }));
  }

  /**
   * Deletes a run, its figures (cascade) and every image file it wrote under the studio's images
   * folder. A running run is refused: cancel it first. Profiles saved from it stay (their source
   * run becomes unknown).
   */
  deleteRun(runId: number): { deleted: boolean; imagesRemoved: number } {
    const { db, home } = this.deps;
    const run = db.prepare('SELECT id, kind, status FROM runs WHERE id = ?').get(runId) as
      { id: number; kind: 'generate' | 'bench'; status: string } | undefined;
    if (!run) return { deleted: false, imagesRemoved: 0 };
    if (run.status === 'running') {
      throw new StudioError(
        `run ${runId} is still running; cancel it (or wait for it to finish), then delete it`,
        'unavailable',
      );
    }
    const paths = [
      ...(
        db.prepare('SELECT path FROM images WHERE run_id = ?').all(runId) as { path: string }[]
      ).map((r) => r.path),
      ...(
        db
          .prepare(
            `SELECT cr.image_path, cr.heatmap_path FROM case_results cr
             JOIN recipe_results rr ON rr.id = cr.recipe_result_id WHERE rr.run_id = ?`,
          )
          .all(runId) as { image_path: string | null; heatmap_path: string | null }[]
      ).flatMap((r) => [r.image_path, r.heatmap_path]),
    ].filter((p): p is string => p !== null);
    const imagesDir = resolve(home, 'images') + sep;
    const inside = (p: string): boolean => resolve(p).startsWith(imagesDir);
    db.transaction(() => {
      db.prepare('DELETE FROM runs WHERE id = ?').run(runId);
    })();
    let imagesRemoved = 0;
    for (const p of paths) {
      if (!inside(p) || !existsSync(p)) continue;
      rmSync(p, { force: true });
      imagesRemoved++;
    }
    // The benchmark's own folder (recipe subfolders, profiler traces).
    const benchDir = join(home, 'images', `bench-${runId}`);
    if (run.kind === 'bench' && inside(benchDir))
      rmSync(benchDir, { recursive: true, force: true });
    return { deleted: true, imagesRemoved };
  }

  profiles(model: string | undefined): ProfileSummary[] {
    const rows = this.deps.db
      .prepare(
        `SELECT name, model, recipe_json, is_default, created_at, source_run_id FROM profiles
         ${model === undefined ? '' : 'WHERE model = ?'} ORDER BY is_default DESC, created_at DESC`,
      )
      .all(...(model === undefined ? [] : [model])) as {
      name: string;
      model: string;
      recipe_json: string;
      is_default: number;
      created_at: string;
      source_run_id: number | null;
    }[];
    return rows.map((r) => {
      const stored = ProfileSchema.safeParse(JSON.parse(r.recipe_json));
      const { recipe, ep } = parseProfile(r.recipe_json);
      return {
        name: r.name,
        model: r.model,
        recipe: recipe.name,
        isDefault: r.is_default === 1,
        createdAt: r.created_at,
        sourceRunId: r.source_run_id,
        ep: ep ?? null,
        speedup: stored.success ? stored.data.measured.speedup : null,
        speedupCi: stored.success ? stored.data.measured.speedupCi : null,
        changes: this.describe(recipe, r.model, ep ?? null),
      };
    });
  }

  /** What saving a run's recipe as the model's default profile would change, before it is saved. */
  previewProfile(runId: number, recipeName?: string): z.infer<typeof PreviewProfileSchema> {
    const { db } = this.deps;
    const run = db
      .prepare(`SELECT model, result_json, params_json FROM runs WHERE id = ? AND kind = 'bench'`)
      .get(runId) as { model: string; result_json: string | null; params_json: string } | undefined;
    if (!run)
      throw new StudioError(
        `runId: run ${runId} is not a benchmark run in the history`,
        'not-found',
      );
    const result = run.result_json
      ? (JSON.parse(run.result_json) as { recommended?: string | null })
      : {};
    const name = recipeName ?? result.recommended ?? undefined;
    if (!name)
      throw new StudioError(
        `recipe: run ${runId} recommended no recipe (keep the baseline); name one to preview it`,
        'bad-input',
      );
    const row = db
      .prepare(`SELECT recipe_json, status FROM recipe_results WHERE run_id = ? AND recipe = ?`)
      .get(runId, name) as { recipe_json: string; status: string } | undefined;
    if (!row || row.status !== 'ok')
      throw new StudioError(`recipe: "${name}" did not complete in run ${runId}`, 'bad-input');
    const recipe = RecipeSchema.parse(JSON.parse(row.recipe_json));
    const params = JSON.parse(run.params_json) as { ep?: string };
    const current = db
      .prepare('SELECT name FROM profiles WHERE model = ? AND is_default = 1')
      .get(run.model) as { name: string } | undefined;
    const ep = params.ep ?? 'cpu';
    return {
      model: run.model,
      recipe: name,
      ep,
      changes: this.describe(recipe, run.model, ep),
      replaces: current?.name ?? null,
    };
  }

  private describe(recipe: Recipe, model: string, ep: string | null): string[] {
    const dir = this.deps.modelDir(model);
    return describeRecipeChanges(recipe, dir ? modelDefaults(dir).steps : undefined, ep);
  }
}

/** One plain sentence per thing a recipe changes against the model's own settings. */
export function describeRecipeChanges(
  recipe: Recipe,
  defaultSteps: number | undefined,
  ep: string | null,
): string[] {
  const out: string[] = [];
  const s = recipe.sampling;
  const rc = recipe.runConfig;
  if (recipe.stack) out.push(`combines ${recipe.stack.of.join(' + ')} (${recipe.stack.tier} tier)`);
  if (recipe.variant !== 'source')
    out.push(`runs the ${recipe.variant} variant of the model (built once by the optimizer)`);
  if (s.steps !== undefined || s.stepsFactor !== undefined) {
    out.push(
      defaultSteps !== undefined
        ? `steps: ${defaultSteps} → ${recipeSteps(recipe, defaultSteps)}`
        : s.steps !== undefined
          ? `steps: ${s.steps}`
          : `steps: x ${s.stepsFactor}`,
    );
  }
  if (s.scheduler) out.push(`scheduler: ${s.scheduler}`);
  if (s.guidance !== undefined) out.push(`guidance: ${s.guidance}`);
  if (s.adaptiveSteps) out.push('fewer steps for short prompts');
  if (s.schedulerOverrides)
    out.push(`scheduler settings: ${describeSchedulerOverrides(s.schedulerOverrides).join('; ')}`);
  if (rc.intraOpThreads !== undefined)
    out.push(
      `intra-op threads: ${rc.intraOpThreads === 'physical-cores' ? 'one per physical core' : rc.intraOpThreads}`,
    );
  if (rc.interOpThreads !== undefined) out.push(`inter-op threads: ${rc.interOpThreads}`);
  if (rc.allowSpinning === false) out.push('idle ONNX Runtime threads sleep instead of spinning');
  if (rc.spinEverySession)
    out.push("every session's idle threads spin (ONNX Runtime's own default)");
  if (rc.graphOptimizationLevel) out.push(`graph optimization level: ${rc.graphOptimizationLevel}`);
  if (rc.enableCpuMemArena === false) out.push('CPU memory arena off (less memory held)');
  if (rc.enableMemPattern === false) out.push('memory pattern planning off');
  if (rc.residency === 'sequential')
    out.push('loads one component at a time (less memory, slower start of each stage)');
  if (rc.vaeTiling) out.push('VAE decodes in tiles');
  if (rc.vaeSlicing) out.push('VAE decodes one image of a batch at a time');
  if (rc.optimizedModelCache)
    out.push("keeps ONNX Runtime's optimized model on disk (faster start)");
  if (ep) out.push(`provider: ${ep}`);
  if (out.length === 0 || (out.length === 1 && ep))
    out.unshift("nothing in the model's settings (the baseline)");
  return out;
}
