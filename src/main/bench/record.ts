import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchRepo, RecipeSummary } from '../store/bench-repo';
import { diagnose, type DiagnosisInput } from './diagnosis';
import type { CaseRun } from './measure';
import type { Recipe } from './recipes';

/**
 * Record: what one recipe of a run writes, as soon as it is known. Each case is committed on its
 * own (images on disk, a row in the store), so a killed benchmark keeps every finished case.
 */
export class RecipeRecord {
  private readonly id: number;

  constructor(
    private readonly repo: BenchRepo,
    private readonly imagesDir: string,
    runId: number,
    position: number,
    private readonly recipe: Recipe,
  ) {
    this.id = repo.startRecipe(runId, position, recipe, recipe);
  }

  /** Writes a case's image (and its difference heatmap against the baseline, if any). */
  writeImages(caseIndex: number, png: Uint8Array, heatmap: Uint8Array | null) {
    const dir = join(this.imagesDir, this.recipe.name);
    mkdirSync(dir, { recursive: true });
    const imagePath = join(dir, `case-${caseIndex}.png`);
    writeFileSync(imagePath, png);
    let heatmapPath: string | null = null;
    if (heatmap) {
      heatmapPath = join(dir, `case-${caseIndex}-diff.png`);
      writeFileSync(heatmapPath, heatmap);
    }
    return { imagePath, heatmapPath };
  }

  addCase(
    run: CaseRun,
    figures: { mean: number; std: number; median: number },
    images: { imagePath: string; heatmapPath: string | null },
    quality: { ssim: number | null; psnr: number | null },
  ): void {
    this.repo.addCase(this.id, {
      caseIndex: run.caseIndex,
      prompt: run.testCase.prompt,
      seed: run.testCase.seed,
      steps: run.steps,
      guidance: run.guidance,
      latencies: run.latencies,
      latencyMean: figures.mean,
      latencyStd: figures.std,
      latencyMedian: figures.median,
      stages: run.stages,
      ...images,
      ...quality,
    });
  }

  /** The recipe's summary, its diagnosis findings and (when profiled) its top operators. */
  finish(summary: RecipeSummary, diagnosis: DiagnosisInput, topOps?: unknown): void {
    this.repo.finishRecipe(this.id, summary);
    for (const finding of diagnose(diagnosis)) this.repo.addFinding(this.id, finding);
    if (topOps) this.repo.setOpProfile(this.id, topOps);
  }

  fail(message: string, verdict: string): void {
    this.repo.failRecipe(this.id, message, verdict);
  }
}
