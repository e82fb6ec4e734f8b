import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecipeOutcome } from '../../shared/bench-schemas';
import type { BenchRepo } from '../store/bench-repo';
import { diagnose } from './diagnosis';
import type { JudgedRecipe } from './judge';
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
  finish(
    o: RecipeOutcome,
    context: {
      idleRssMb: number;
      modelSizeMb: number;
      provider: string;
      ramTotalMb: number;
    } & Pick<JudgedRecipe, 'speedMethod' | 'loadAvg'>,
  ): void {
    const latency = o.latencyMs ?? { mean: NaN, std: NaN, median: NaN };
    const stages = o.stagesMs ?? {};
    this.repo.finishRecipe(this.id, {
      latencyMean: latency.mean,
      latencyStd: latency.std,
      latencyMedian: latency.median,
      stages,
      peakRssMb: o.peakRssMb,
      peakGpuMb: o.peakGpuMb ?? null,
      cpuPercent: o.cpuPercent,
      ssim: o.ssim,
      psnr: o.psnr,
      speedup: o.speedup,
      verdict: o.verdict,
      extra: {
        speedupCi: o.speedupCi,
        loadMs: o.loadMs,
        firstImageMs: o.firstImageMs,
        restartLoadMs: o.restartLoadMs,
        tier: o.tier,
        contributions: o.contributions,
        adherence: o.adherence,
        // Not in RecipeOutcome (yet): kept with the stored run, and told in findings/explanation.
        speedupMethod: context.speedMethod,
        loadAvg: context.loadAvg,
      },
    });
    const findings = diagnose({
      latencyMsPerImage: latency.mean,
      // Memory the model brought: the engine's peak above its idle footprint (Node + ORT).
      peakRssMb: Math.max(0, (o.peakRssMb ?? 0) - context.idleRssMb),
      modelSizeMb: context.modelSizeMb,
      cpuPercentDuringRun: o.cpuPercent ?? 0,
      provider: context.provider,
      ssim: o.ssim ?? undefined,
      psnr: o.psnr ?? undefined,
      stages: {
        textEncoder: stages.textEncoder ?? 0,
        unet: stages.unet ?? 0,
        vae: stages.vae ?? 0,
      },
      ramTotalMb: context.ramTotalMb,
      loadAvg: context.loadAvg,
    });
    for (const finding of findings) this.repo.addFinding(this.id, finding);
    if (o.topOps) this.repo.setOpProfile(this.id, o.topOps);
  }

  fail(message: string, verdict: string): void {
    this.repo.failRecipe(this.id, message, verdict);
  }
}
