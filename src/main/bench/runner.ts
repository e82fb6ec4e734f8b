import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchProgress, BenchResult, RecipeOutcome } from '../../shared/bench-schemas';
import type { ExecutionProvider, HardwareInfo, ModelSummary } from '../../shared/schemas';
import { StudioError } from '../../shared/errors';
import { EngineClient } from '../engine/engine-client';
import type { PipelineRequest, PipelineResult } from '../engine/protocol';
import type { BenchRepo } from '../store/bench-repo';
import { stats } from './stats';
import { compareImages, diffHeatmap, inspectImage, qualityVerdict } from './quality';
import { diagnose } from './diagnosis';
import { recipeRunConfig, recipeSteps, type Recipe } from './recipes';
import type { TestCase, TestSet } from './test-sets';
import { pickWinner } from './wizard';
import { variantDir } from './variants';
import { GpuReader, PeakTracker } from '../hardware/live-sampler';
import { findProfileFile, readProfileTrace } from './profile-trace';

export interface BenchPlan {
  runId: number;
  jobId: string;
  model: { name: string; dir: string; sizeBytes: number; family: ModelSummary['family'] };
  recipes: Recipe[];
  testSet: TestSet;
  repeats: number;
  warmup: number;
  ep: ExecutionProvider;
  hardware: HardwareInfo;
  imagesDir: string;
  profileOps: boolean;
  /** Images per call: 1 for latency, more for throughput (figures are then per image). */
  batch: number;
  skipped: { recipe: string; reason: string }[];
}

export interface BenchHooks {
  onProgress(p: BenchProgress): void;
  isCancelled(): boolean;
}

const STAGES = ['tokenize', 'textEncoder', 'unet', 'vae', 'ort', 'load'] as const;

function verdictFor(
  isBaseline: boolean,
  speedup: number | null,
  ssim: number | null,
  psnr: number | null,
): string {
  if (isBaseline) return 'baseline';
  if (ssim === null || psnr === null || speedup === null) return 'unmeasured';
  const quality = qualityVerdict(ssim, psnr);
  if (quality !== 'acceptable') return quality;
  if (speedup > 1.05) return 'faster';
  if (speedup < 0.95) return 'slower';
  return 'no gain';
}

/**
 * Runs every recipe on every test case: warm-up runs (not counted), then `repeats` measured runs
 * per case in a fresh engine process per recipe (so peak memory is the recipe's own). The baseline
 * goes first; every other recipe's last images are compared against the baseline images of the
 * same case and seed. A recipe that fails is recorded with its reason and the run goes on.
 */
export async function runBenchmark(
  plan: BenchPlan,
  repo: BenchRepo,
  hooks: BenchHooks,
): Promise<BenchResult> {
  const baseline = plan.recipes[0];
  const outcomes: RecipeOutcome[] = [];
  const baselineImages = new Map<number, Uint8Array>();
  const gpuReader = new GpuReader();
  let baselineMean: number | null = null;

  for (const [position, recipe] of plan.recipes.entries()) {
    const resultId = repo.startRecipe(plan.runId, position, recipe, recipe);
    const progress = (caseIndex: number, phase: BenchProgress['phase']): void =>
      hooks.onProgress({
        jobId: plan.jobId,
        runId: plan.runId,
        recipe: recipe.name,
        recipeIndex: position,
        recipeCount: plan.recipes.length,
        caseIndex,
        caseCount: plan.testSet.cases.length,
        phase,
      });
    const engine = new EngineClient();
    let tracker: PeakTracker | undefined;
    try {
      const modelDir = variantDir(plan.model.dir, recipe.variant);
      const runConfig = recipeRunConfig(recipe, plan.hardware.cpu.physicalCores);
      const all: number[] = [];
      const stageSums: Record<string, number> = {};
      const ssims: number[] = [];
      const psnrs: number[] = [];
      const before = await engine.stats();
      // GPU memory is the device's, sampled while the recipe runs (null where no GPU reports it).
      tracker = new PeakTracker({ pid: () => engine.pid, gpu: gpuReader });
      tracker.begin();
      const wallStart = performance.now();
      for (const [caseIndex, testCase] of plan.testSet.cases.entries()) {
        if (hooks.isCancelled()) throw new StudioError('benchmark cancelled', 'cancelled');
        const request = caseRequest(plan, recipe, testCase, modelDir, runConfig);
        const warmups = caseIndex === 0 ? plan.warmup : 0;
        // A cancel reaches the engine between denoising steps, not only between cases.
        const watchCancel = (id: string) => () => {
          if (hooks.isCancelled()) engine.cancel(id);
        };
        for (let w = 0; w < warmups; w++) {
          progress(caseIndex, 'warmup');
          await engine.run(`${plan.jobId}-w`, request, watchCancel(`${plan.jobId}-w`));
        }
        const latencies: number[] = [];
        const caseStages: Record<string, number> = {};
        let last: PipelineResult | undefined;
        for (let r = 0; r < plan.repeats; r++) {
          progress(caseIndex, 'measure');
          last = await engine.run(`${plan.jobId}-${r}`, request, watchCancel(`${plan.jobId}-${r}`));
          const elsewhere = Object.entries(last.providers).filter(([, p]) => p !== plan.ep);
          if (elsewhere.length > 0) {
            throw new StudioError(
              `${elsewhere.map(([c, p]) => `${c} ran on ${p}`).join(', ')} instead of ${plan.ep}: the ${plan.ep} provider failed to load, so this would not measure ${plan.ep}`,
              'failed',
            );
          }
          // Per image: at batch > 1 (the throughput objective) one call makes `batch` images.
          latencies.push(last.timings.total / plan.batch);
          for (const s of STAGES)
            caseStages[s] = (caseStages[s] ?? 0) + last.timings[s] / plan.batch / plan.repeats;
        }
        if (!last) throw new StudioError('no measured run', 'failed');
        progress(caseIndex, 'quality');
        const png = last.images[0].png;
        const inspection = inspectImage(png);
        if (inspection.problem) {
          throw new StudioError(
            `case ${caseIndex + 1} ("${testCase.prompt}") produced a ${inspection.problem} image (mean ${inspection.mean.toFixed(1)}): a numerical failure, not a faster result`,
            'failed',
          );
        }
        const dir = join(plan.imagesDir, recipe.name);
        mkdirSync(dir, { recursive: true });
        const imagePath = join(dir, `case-${caseIndex}.png`);
        writeFileSync(imagePath, png);
        let ssim: number | null = null;
        let psnr: number | null = null;
        let heatmapPath: string | null = null;
        if (position === 0) {
          baselineImages.set(caseIndex, png);
        } else {
          const reference = baselineImages.get(caseIndex);
          if (reference) {
            const q = compareImages(reference, png);
            ssim = q.ssim;
            psnr = q.psnr;
            ssims.push(q.ssim);
            psnrs.push(q.psnr);
            heatmapPath = join(dir, `case-${caseIndex}-diff.png`);
            writeFileSync(heatmapPath, diffHeatmap(reference, png));
          }
        }
        const s = stats(latencies);
        all.push(...latencies);
        for (const [k, v] of Object.entries(caseStages)) stageSums[k] = (stageSums[k] ?? 0) + v;
        repo.addCase(resultId, {
          caseIndex,
          prompt: testCase.prompt,
          seed: testCase.seed,
          steps: last.steps,
          guidance: last.guidance,
          latencies,
          latencyMean: s.mean,
          latencyStd: s.std,
          latencyMedian: s.median,
          stages: caseStages,
          imagePath,
          heatmapPath,
          ssim,
          psnr,
        });
      }
      const after = await engine.stats();
      const wallMs = performance.now() - wallStart;
      const window = await tracker.end();
      tracker = undefined;
      let topOps: RecipeOutcome['topOps'];
      if (plan.profileOps) {
        progress(0, 'profile');
        topOps = await profileOnce(engine, plan, recipe, modelDir, runConfig);
        repo.setOpProfile(resultId, topOps);
      }
      // ORT's pool uses physical cores; SMT siblings would make every CPU look half idle.
      const cores = Math.max(1, plan.hardware.cpu.physicalCores || plan.hardware.cpu.cores);
      const cpuPercent = Math.min(100, ((after.cpuMs - before.cpuMs) / wallMs / cores) * 100);
      const s = stats(all);
      const stagesMs = Object.fromEntries(
        Object.entries(stageSums).map(([k, v]) => [k, v / plan.testSet.cases.length]),
      );
      if (position === 0) baselineMean = s.mean;
      const speedup = baselineMean !== null ? baselineMean / s.mean : null;
      // The worst case, not the mean: a recipe that ruins one prompt must not pass on the others.
      const ssim = ssims.length ? Math.min(...ssims) : null;
      const psnr = psnrs.length ? Math.min(...psnrs) : null;
      const verdict = verdictFor(position === 0, speedup, ssim, psnr);
      const measured = {
        peakRssMb: after.maxRssMb,
        peakGpuMb: window.peakGpuMb,
        cpuPercent,
        ssim,
        psnr,
        speedup,
        verdict,
      };
      repo.finishRecipe(resultId, {
        latencyMean: s.mean,
        latencyStd: s.std,
        latencyMedian: s.median,
        stages: stagesMs,
        ...measured,
      });
      for (const finding of diagnose({
        latencyMsPerImage: s.mean,
        // Memory the model brought: the engine's peak above its idle footprint (Node + ORT).
        peakRssMb: Math.max(0, after.maxRssMb - before.rssMb),
        modelSizeMb: plan.model.sizeBytes / 2 ** 20,
        cpuPercentDuringRun: cpuPercent,
        provider: plan.ep,
        ssim: ssim ?? undefined,
        psnr: psnr ?? undefined,
        stages: {
          textEncoder: stagesMs.textEncoder ?? 0,
          unet: stagesMs.unet ?? 0,
          vae: stagesMs.vae ?? 0,
        },
        ramTotalMb: plan.hardware.memory.totalMb,
      })) {
        repo.addFinding(resultId, finding);
      }
      outcomes.push({
        name: recipe.name,
        title: recipe.title,
        status: 'ok',
        latencyMs: { mean: s.mean, std: s.std, median: s.median },
        stagesMs,
        ...measured,
        ...(topOps ? { topOps } : {}),
      });
      progress(plan.testSet.cases.length - 1, 'done');
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      repo.failRecipe(resultId, message);
      outcomes.push({
        name: recipe.name,
        title: recipe.title,
        status: 'failed',
        error: message,
        latencyMs: null,
        stagesMs: null,
        peakRssMb: null,
        cpuPercent: null,
        ssim: null,
        psnr: null,
        speedup: null,
        verdict: 'failed',
      });
      progress(0, 'failed');
      if (error instanceof StudioError && error.code === 'cancelled') throw error;
    } finally {
      await tracker?.end(); // a failed recipe must not leave its sampler running
      await engine.close();
    }
  }

  const { winner, explanation } = pickWinner(
    outcomes.map((o) => ({
      name: o.name,
      status: o.status,
      latencyMean: o.latencyMs?.mean ?? null,
      peakRssMb: o.peakRssMb,
      ssim: o.ssim,
      psnr: o.psnr,
      error: o.error ?? null,
    })),
    baseline.name,
  );
  if (winner && winner !== baseline.name) {
    const w = outcomes.find((o) => o.name === winner);
    if (w) w.verdict = 'recommended';
  }
  return {
    runId: plan.runId,
    model: plan.model.name,
    baseline: baseline.name,
    testSet: plan.testSet.name,
    recipes: outcomes,
    recommended: winner,
    explanation,
    skipped: plan.skipped,
  };
}

const fewStep = (plan: BenchPlan): boolean =>
  plan.model.family === 'sd-turbo' || plan.model.family === 'lcm';

/** The engine request for one test case under one recipe: the case's prompt and seed, the recipe's settings. */
function caseRequest(
  plan: BenchPlan,
  recipe: Recipe,
  testCase: TestCase,
  modelDir: string,
  runConfig: PipelineRequest['runConfig'],
): PipelineRequest {
  return {
    modelDir,
    prompt: testCase.prompt,
    negativePrompt: testCase.negativePrompt,
    // Distilled few-step models (Turbo, LCM) run at their own steps and guidance, not the case's
    // 30-50 steps with CFG, which would measure a way nobody uses them.
    steps: fewStep(plan) ? recipe.sampling.steps : recipeSteps(recipe, testCase.steps),
    guidance: recipe.sampling.guidance ?? (fewStep(plan) ? undefined : testCase.guidance),
    seed: testCase.seed,
    scheduler: recipe.sampling.scheduler,
    adaptiveSteps: recipe.sampling.adaptiveSteps,
    schedulerOverrides: recipe.sampling.schedulerOverrides,
    width: testCase.width,
    height: testCase.height,
    batch: plan.batch,
    ep: plan.ep,
    previewEvery: 0,
    runConfig,
  };
}

/**
 * One extra, unmeasured generation of the first case with ORT profiling on; the traces are kept
 * beside the recipe's images (open them in chrome://tracing or Perfetto) and summarised here.
 */
async function profileOnce(
  engine: EngineClient,
  plan: BenchPlan,
  recipe: Recipe,
  modelDir: string,
  runConfig: ReturnType<typeof recipeRunConfig>,
): Promise<NonNullable<RecipeOutcome['topOps']>> {
  const testCase = plan.testSet.cases[0];
  const profileDir = join(plan.imagesDir, recipe.name, 'traces');
  mkdirSync(profileDir, { recursive: true });
  await engine.run(
    `${plan.jobId}-profile`,
    {
      ...caseRequest(plan, recipe, testCase, modelDir, runConfig),
      runConfig: { ...runConfig, enableProfiling: true, profileDir },
    },
    () => {},
  );
  const ops: NonNullable<RecipeOutcome['topOps']> = [];
  for (const component of ['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder']) {
    const file = await findProfileFile(join(profileDir, component));
    if (!file) continue;
    const summary = await readProfileTrace(file, { top: 8 });
    for (const op of summary.byOpType) {
      ops.push({
        component,
        opType: op.opType,
        count: op.count,
        totalMs: op.totalMs,
        percent: op.percent,
        traceFile: file,
      });
    }
  }
  return ops.sort((a, b) => b.totalMs - a.totalMs).slice(0, 15);
}
