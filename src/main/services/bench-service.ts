import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { MethodOutput, ParsedInput } from '../../shared/api';
import {
  RecipeOutcomeSchema,
  type CompareResult,
  type ExportedFile,
  type RecipeOutcome,
  type RunDetail,
} from '../../shared/bench-schemas';
import { compareChartSvg, runToCsv, runToJson } from '../bench/export';
import { StudioError } from '../../shared/errors';
import { BUILTIN_RECIPES, findRecipe, RecipeSchema, type Recipe } from '../bench/recipes';
import { loadTestSet } from '../bench/test-sets';
import { runBenchmark } from '../bench/runner';
import { proposeCandidates, type Objective, type Priority } from '../bench/wizard';
import type { ExecutionProvider, HardwareInfo, ModelSummary } from '../../shared/schemas';
import type { HardwareService } from '../hardware/hardware-service';
import type { ModelRegistry } from '../models/model-registry';
import { summarizeModel } from '../models/model-folder';
import { modelFingerprint } from '../models/fingerprint';
import type { BenchRepo } from '../store/bench-repo';
import type { RunsRepo } from '../store/runs-repo';
import type { Db } from '../store/database';
import type { StudioEvents } from './studio';
import { appVersion, ortVersion } from '../versions';
import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { bestProvider, workingProviders } from '../hardware/best-provider';
import { isAcceleratorProvider } from '../bench/diagnosis';
import { adherenceText, fitVerdict } from '../bench/judge';
import { PSNR_ACCEPTABLE_DB, SSIM_ACCEPTABLE, qualityVerdict } from '../bench/quality';
import { modelDefaults, type Profile } from '../profiles/profile';
import type { EngineLock } from './engine-lock';
import { canBuildVariant, withCardSampling } from '../bench/variants';
import { variantNeedsBuild } from '../bench/variant-status';
import { planToBudget, trimmedText } from '../bench/budget';
import { calibrate } from '../bench/calibrate';

/** The batch the throughput objective measures at: big enough to amortise per-call costs, small
 * enough for consumer memory. Latency figures are then per image. */
export const THROUGHPUT_BATCH = 4;

/** Variants present next to a model folder (`<model>-int8`, `<model>-fp16`, ...). */
function presentVariants(modelDir: string): string[] {
  return BUILTIN_RECIPES.map((r) => r.variant).filter(
    (v) =>
      v !== 'source' &&
      existsSync(join(dirname(modelDir), `${basename(modelDir)}-${v}`, 'unet', 'model.onnx')),
  );
}

/** The benchmark lab as a service: plans a run, drives the runner, answers history questions. */
export class BenchService {
  private readonly cancelled = new Set<string>();
  /**
   * One benchmark at a time: two would share the CPU and skew each other's figures. The job id of
   * the run (or plan) in progress; cancel answers for it only.
   */
  private running: string | undefined;
  /** The engine process of the recipe being measured, for the live sampler. */
  enginePid: number | undefined;

  constructor(
    private readonly deps: {
      home: string;
      db: Db;
      runs: RunsRepo;
      bench: BenchRepo;
      models: ModelRegistry;
      hardware: HardwareService;
      events: StudioEvents;
      /** Shared with generate: a benchmark and a generation never run at the same time. */
      lock: EngineLock;
    },
  ) {}

  async propose(input: ParsedInput<'proposeRecipes'>): Promise<MethodOutput<'proposeRecipes'>> {
    const model = this.deps.models.resolve(input.model);
    const hw = await this.deps.hardware.detect();
    const family = summarizeModel(model.name, model.dir, 'user').family;
    const proposal = this.proposal(model.dir, family, hw, input);
    return {
      hardwareClass: hw.hardwareClass,
      recipes: proposal.recipes
        .map((r) => withCardSampling(r, model.dir, family, this.deps.home))
        .map((r) => ({
          name: r.name,
          title: r.title,
          strategy: r.strategy,
          description: r.description,
        })),
      skipped: proposal.skipped,
      more: proposal.more.map((r) => ({
        name: r.name,
        title: r.title,
        strategy: r.strategy,
        description: r.description,
      })),
    };
  }

  private proposal(
    modelDir: string,
    family: ModelSummary['family'],
    hw: HardwareInfo,
    input: { priority: Priority; objective: Objective },
  ) {
    return proposeCandidates({
      hardwareClass: hw.hardwareClass,
      priority: input.priority,
      objective: input.objective,
      family,
      variants: presentVariants(modelDir),
      canBuildVariant: (variant) => canBuildVariant(variant, modelDir, family, this.deps.home),
      gpuProviderWorks: workingProviders(hw).some(isAcceleratorProvider),
    });
  }

  async run(input: ParsedInput<'runBenchmark'>): Promise<MethodOutput<'runBenchmark'>> {
    const jobId = input.jobId ?? randomUUID();
    return this.exclusive(jobId, () => this.runExclusive({ ...input, jobId }));
  }

  /** One benchmark (or plan, which runs the engine too) at a time, holding the engine lock. */
  private async exclusive<T>(jobId: string, work: () => Promise<T>): Promise<T> {
    if (this.running) {
      throw new StudioError(
        `a benchmark (${this.running}) is already running; wait for it or cancel it first`,
        'unavailable',
      );
    }
    const release = this.deps.lock.acquire('benchmark');
    this.running = jobId;
    try {
      return await work();
    } finally {
      this.running = undefined;
      this.cancelled.delete(jobId);
      release();
    }
  }

  /** What a run of `input` would measure, with the time it is predicted to take (no measuring). */
  async plan(input: ParsedInput<'planBenchmark'>): Promise<MethodOutput<'planBenchmark'>> {
    const jobId = input.jobId ?? randomUUID();
    return this.exclusive(jobId, async () => {
      const prepared = await this.prepare(input);
      const { plan, cal } = await this.budgetPlan(prepared, input, jobId);
      return {
        plan: {
          budgetSeconds: plan.budgetSeconds,
          predictedSeconds: plan.predictedSeconds,
          phases: plan.phases,
          candidates: plan.candidates,
          cases: plan.cases,
          repeats: plan.repeats,
          warmup: plan.warmup,
          dropped: plan.dropped,
          untrimmedSeconds: plan.untrimmedSeconds,
          calibration: {
            loadMs: cal.loadMs,
            textEncoderMs: cal.textEncoderMs,
            unetStepMs: cal.unetStepMs,
            firstStepMs: cal.firstStepMs,
            vaeMs: cal.vaeMs,
            steps: cal.steps,
          },
        },
      };
    });
  }

  /** Resolves what a run measures: the model, provider, test set, recipes and what was left out. */
  private async prepare(input: ParsedInput<'runBenchmark'>) {
    const { models, hardware, home } = this.deps;
    const model = models.resolve(input.model);
    const summary = summarizeModel(model.name, model.dir, 'user');
    const hw = await hardware.detect();
    const ep = input.ep ?? bestProvider(hw);
    if (!workingProviders(hw).includes(ep)) {
      throw new StudioError(
        `ep: ${ep} does not work on this machine; use one of ${workingProviders(hw).join(', ')}`,
        'bad-input',
      );
    }
    let testSet = loadTestSet(input.cases, model.name);
    if (input.maxCases) testSet = { ...testSet, cases: testSet.cases.slice(0, input.maxCases) };
    let recipes: Recipe[];
    let skipped: { recipe: string; reason: string }[] = [];
    if (input.recipes) {
      recipes = [...new Set(input.recipes)].map((name) => findRecipe(name));
      // The baseline is what every other recipe is measured against: it always runs, first.
      recipes = [findRecipe('baseline'), ...recipes.filter((r) => r.name !== 'baseline')];
    } else {
      const proposal = this.proposal(model.dir, summary.family, hw, input);
      recipes = proposal.recipes;
      skipped = proposal.skipped;
    }
    // A distilled student runs at the sampling its card was trained for; the stored recipe says it.
    recipes = recipes.map((r) => withCardSampling(r, model.dir, summary.family, home));
    // Two engines at once: only on the CPU provider (a GPU's memory and peak would be shared) and
    // where the model fits in memory twice.
    const interleave =
      input.interleave &&
      !isAcceleratorProvider(ep) &&
      fitVerdict(2 * summary.sizeBytes, hw.memory.availableMb, 'this machine') === null;
    const batch = input.objective === 'throughput' ? THROUGHPUT_BATCH : 1;
    return { model, summary, hw, ep, testSet, recipes, skipped, interleave, batch };
  }

  /** The calibration on this model and machine, and the plan fitted to the budget. */
  private async budgetPlan(
    p: Awaited<ReturnType<BenchService['prepare']>>,
    input: ParsedInput<'runBenchmark'>,
    jobId: string,
  ) {
    const defaults = modelDefaults(p.model.dir);
    const cal = await calibrate({
      model: { name: p.model.name, dir: p.model.dir, family: p.summary.family },
      baseline: p.recipes[0],
      testCase: p.testSet.cases[0],
      settings: input.settings,
      defaultSteps: defaults.steps,
      defaultGuidance: defaults.guidance,
      batch: p.batch,
      ep: p.ep,
      physicalCores: p.hw.cpu.physicalCores || p.hw.cpu.cores,
      jobId,
      isCancelled: () => this.cancelled.has(jobId),
    });
    const plan = planToBudget({
      cal,
      recipes: p.recipes,
      cases: p.testSet.cases.length,
      repeats: input.repeats,
      warmup: input.warmup,
      interleave: p.interleave,
      stack: input.stack,
      budgetSeconds: input.budgetMinutes * 60,
      needsBuild: (r) => variantNeedsBuild(p.model.dir, r.variant, this.deps.home),
      modelBytes: p.summary.sizeBytes,
    });
    return { plan, cal };
  }

  private async runExclusive(
    input: ParsedInput<'runBenchmark'> & { jobId: string },
  ): Promise<MethodOutput<'runBenchmark'>> {
    const { runs, bench, home, events } = this.deps;
    const startedAt = Date.now();
    const prepared = await this.prepare(input);
    const { model, summary, hw, ep, interleave } = prepared;
    const jobId = input.jobId;
    // The plan is fitted to the time budget: fewer repeats, cases or candidates, each said.
    const { plan: budget } = await this.budgetPlan(prepared, input, jobId);
    const recipes = prepared.recipes.filter((r) => budget.candidates.includes(r.name));
    const testSet = {
      ...prepared.testSet,
      cases: prepared.testSet.cases.slice(0, budget.cases),
    };
    const skipped = [...prepared.skipped, ...budget.dropped];
    const repeats = budget.repeats;
    const warmup = budget.warmup;
    const runId = runs.start({
      kind: 'bench',
      model: model.name,
      summary: `${recipes.length} recipes x ${testSet.cases.length} cases (${testSet.name}${input.settings === 'model' ? ', model defaults' : ''}), ${repeats} repeats (budget ${input.budgetMinutes} min, predicted ${(budget.predictedSeconds / 60).toFixed(1)}), ${ep}${input.objective === 'throughput' ? `, batch ${THROUGHPUT_BATCH}` : ''}`,
      params: { ...input, ep, recipes: recipes.map((r) => r.name), skipped },
      appVersion: appVersion(),
      ortVersion: ortVersion(),
    });
    bench.attachRun(
      runId,
      bench.upsertModel({
        path: model.dir,
        name: model.name,
        family: summary.family,
        fingerprint: modelFingerprint(model.dir),
        sizeBytes: summary.sizeBytes,
      }),
      bench.saveHardware(hw),
    );
    try {
      const result = await runBenchmark(
        {
          runId,
          home,
          jobId,
          model: {
            name: model.name,
            dir: model.dir,
            sizeBytes: summary.sizeBytes,
            family: summary.family,
          },
          recipes,
          testSet,
          settings: input.settings,
          defaultSteps: modelDefaults(model.dir).steps,
          repeats,
          warmup,
          ep,
          priority: input.priority,
          stack: input.stack,
          interleave,
          hardware: hw,
          imagesDir: join(home, 'images', `bench-${runId}`),
          profileOps: input.profileOps,
          batch: prepared.batch,
          skipped,
          budget: {
            budgetSeconds: budget.budgetSeconds,
            predictedSeconds: budget.predictedSeconds,
            startedAt,
            perRecipe: budget.perRecipe,
          },
        },
        bench,
        {
          onProgress: (p) => events.emit('benchProgress', p),
          isCancelled: () => this.cancelled.has(jobId),
          onEngine: (pid) => {
            this.enginePid = pid;
          },
        },
      );
      const trimmed = trimmedText(input, prepared.testSet.cases.length, budget);
      if (trimmed) result.explanation = `${result.explanation} ${trimmed}`;
      runs.finish(runId, result, []);
      return result;
    } catch (error) {
      // Cancelled on purpose: neither a failure nor `interrupted` (a run whose process died). Said
      // as the benchmark's, also when the engine stopped mid-image ("generation cancelled").
      if (error instanceof StudioError && error.code === 'cancelled') {
        runs.cancel(runId, 'benchmark cancelled');
        throw new StudioError('benchmark cancelled', 'cancelled');
      }
      const message = error instanceof Error ? error.message : String(error);
      runs.fail(runId, message);
      throw error instanceof StudioError ? error : new StudioError(message, 'failed');
    }
  }

  /** The request a run was started with (as stored in `runs.params_json`). */
  private runParams(runId: number): {
    ep?: ExecutionProvider;
    settings?: 'model' | 'cases';
    skipped?: { recipe: string; reason: string }[];
  } {
    const row = this.deps.db.prepare('SELECT params_json FROM runs WHERE id = ?').get(runId) as
      { params_json: string | null } | undefined;
    return row?.params_json
      ? (JSON.parse(row.params_json) as ReturnType<BenchService['runParams']>)
      : {};
  }

  /** Skipped recipes as planned at the start (a run that never finished has no result yet). */
  private plannedSkips(runId: number): { recipe: string; reason: string }[] {
    return this.runParams(runId).skipped ?? [];
  }

  /**
   * Stops the benchmark (or plan) running as `jobId` at its next check, between runs. False for
   * any other id: nothing is remembered for a job that is not running, so a stale or mistyped id
   * never cancels a later run.
   */
  cancel(jobId: string): boolean {
    if (this.running !== jobId) return false;
    this.cancelled.add(jobId);
    return true;
  }

  detail(runId: number, field = 'runId'): RunDetail {
    const row = this.deps.db
      .prepare(
        'SELECT id, status, model, started_at, ended_at, error, result_json, kind FROM runs WHERE id = ?',
      )
      .get(runId) as
      | {
          id: number;
          status: RunDetail['status'];
          model: string;
          started_at: string;
          ended_at: string | null;
          error: string | null;
          result_json: string | null;
          kind: string;
        }
      | undefined;
    if (!row)
      throw new StudioError(
        `${field}: run ${runId} does not exist; see history for run ids`,
        'not-found',
      );
    if (row.kind !== 'bench')
      throw new StudioError(
        `${field}: run ${runId} is a ${row.kind} run, not a benchmark`,
        'bad-input',
      );
    const stored = row.result_json
      ? (JSON.parse(row.result_json) as {
          recommended?: string | null;
          explanation?: string;
          skipped?: { recipe: string; reason: string }[];
        })
      : null;
    const recipes = this.deps.bench.recipes(runId).map((r) => {
      const recipe = RecipeSchema.safeParse(JSON.parse(r.recipeJson));
      return {
        name: r.recipe,
        title: recipe.success ? recipe.data.title : r.recipe,
        // A recipe still 'running' in a finished or interrupted run never completed.
        status: r.status === 'ok' ? ('ok' as const) : ('failed' as const),
        ...(r.status === 'running' ? { error: 'did not finish (interrupted)' } : {}),
        ...(r.error ? { error: r.error } : {}),
        latencyMs:
          r.latencyMean !== null
            ? {
                mean: r.latencyMean,
                std: r.latencyStd ?? 0,
                median: r.latencyMedian ?? r.latencyMean,
              }
            : null,
        stagesMs: r.stages,
        peakRssMb: r.peakRssMb,
        peakGpuMb: r.peakGpuMb,
        cpuPercent: r.cpuPercent,
        ssim: r.ssim,
        psnr: r.psnr,
        speedup: r.speedup,
        ...pickExtra(r.extra),
        verdict:
          r.status === 'running'
            ? 'unfinished'
            : r.verdict === null
              ? 'unfinished'
              : stored?.recommended === r.recipe && r.position > 0
                ? 'recommended'
                : r.verdict,
        cases: this.deps.bench.cases(r.id).map((c) => ({
          caseIndex: c.caseIndex,
          prompt: c.prompt,
          seed: c.seed,
          steps: c.steps,
          guidance: c.guidance,
          latencyMs: { mean: c.latencyMean, std: c.latencyStd, median: c.latencyMedian },
          stagesMs: c.stages,
          imagePath: c.imagePath,
          heatmapPath: c.heatmapPath,
          ssim: c.ssim,
          psnr: c.psnr,
        })),
        findings: this.deps.bench.findings(r.id),
        ...(() => {
          const profile = this.deps.bench.opProfile(r.id);
          return Array.isArray(profile)
            ? { topOps: profile as NonNullable<RecipeOutcome['topOps']> }
            : {};
        })(),
      };
    });
    return {
      id: row.id,
      status: row.status,
      model: row.model,
      startedAt: row.started_at,
      endedAt: row.ended_at,
      error: row.error,
      recommended: stored?.recommended ?? null,
      explanation: stored?.explanation ?? null,
      skipped: stored?.skipped ?? this.plannedSkips(runId),
      recipes,
    };
  }

  compare(runA: number, runB: number): CompareResult {
    const a = this.detail(runA, 'runA');
    const b = this.detail(runB, 'runB');
    const names = [...new Set([...a.recipes.map((r) => r.name), ...b.recipes.map((r) => r.name)])];
    return {
      runA,
      runB,
      recipes: names.map((name) => {
        const ra = a.recipes.find((r) => r.name === name);
        const rb = b.recipes.find((r) => r.name === name);
        const la = ra?.latencyMs?.mean ?? null;
        const lb = rb?.latencyMs?.mean ?? null;
        return {
          name,
          latencyA: la,
          latencyB: lb,
          speedup: la !== null && lb !== null ? la / lb : null,
          memoryDeltaMb:
            ra?.peakRssMb != null && rb?.peakRssMb != null ? rb.peakRssMb - ra.peakRssMb : null,
          ssimA: ra?.ssim ?? null,
          ssimB: rb?.ssim ?? null,
          adherenceA: ra?.adherence?.allCorrect ?? null,
          adherenceB: rb?.adherence?.allCorrect ?? null,
          cases: (ra?.cases ?? []).map((ca) => {
            const cb = rb?.cases.find((c) => c.caseIndex === ca.caseIndex);
            return {
              caseIndex: ca.caseIndex,
              prompt: ca.prompt,
              speedup: cb ? ca.latencyMs.mean / cb.latencyMs.mean : null,
            };
          }),
        };
      }),
    };
  }

  exportRun(runId: number, format: 'json' | 'csv'): ExportedFile {
    const run = this.detail(runId);
    return format === 'csv'
      ? { filename: `latent-studio-run-${runId}.csv`, mimeType: 'text/csv', content: runToCsv(run) }
      : {
          filename: `latent-studio-run-${runId}.json`,
          mimeType: 'application/json',
          content: runToJson(run),
        };
  }

  exportComparison(runA: number, runB: number): ExportedFile {
    return {
      filename: `latent-studio-compare-${runA}-${runB}.svg`,
      mimeType: 'image/svg+xml',
      content: compareChartSvg(this.compare(runA, runB)),
    };
  }

  trend(modelName: string, recipe: string): ReturnType<BenchRepo['trend']> {
    return this.deps.bench.trend(recipe, this.deps.models.resolve(modelName).dir);
  }

  /** Saves a benchmarked recipe as a named profile; `generate` uses the model's default profile. */
  saveProfile(input: ParsedInput<'saveProfile'>): MethodOutput<'saveProfile'> {
    const detail = this.detail(input.runId);
    const recipeName = input.recipe ?? detail.recommended;
    if (!recipeName)
      throw new StudioError(
        `recipe: run ${input.runId} recommended no recipe; name one with recipe`,
        'bad-input',
      );
    const row = this.deps.bench.recipes(input.runId).find((r) => r.recipe === recipeName);
    if (!row || row.status !== 'ok') {
      throw new StudioError(
        `recipe: "${recipeName}" did not complete in run ${input.runId}`,
        'bad-input',
      );
    }
    // A recipe whose images fail the pixel comparison changes what the person gets: applied only
    // knowingly (the wizard's "Apply anyway", the CLI's --acknowledge-quality), never by default.
    if (row.position > 0 && !input.acknowledgeQuality) {
      const quality =
        row.ssim !== null && row.psnr !== null ? qualityVerdict(row.ssim, row.psnr) : 'unmeasured';
      if (quality !== 'acceptable') {
        const adherence = detail.recipes.find((r) => r.name === recipeName)?.adherence;
        throw new StudioError(
          `acknowledgeQuality: "${recipeName}" did not pass the quality check in run ${input.runId} (${quality}: SSIM ${row.ssim?.toFixed(3) ?? '?'}, PSNR ${row.psnr?.toFixed(1) ?? '?'} dB against the baseline; needs SSIM > ${SSIM_ACCEPTABLE} and PSNR > ${PSNR_ACCEPTABLE_DB} dB${adherence ? `; every prompt check right in ${adherenceText(adherence)} cases` : ''}), so its images differ from what you get today; to apply it anyway pass acknowledgeQuality: true (CLI: --acknowledge-quality)`,
          'bad-input',
        );
      }
    }
    const name = input.name ?? `${detail.model}-${recipeName}`;
    // The recipe as measured: its changes relative to the settings the run measured at (under
    // `model` settings, the model's defaults, which is what generate starts from).
    const recipe = RecipeSchema.parse(JSON.parse(row.recipeJson));
    const params = this.runParams(input.runId);
    const measured = detail.recipes.find((r) => r.name === recipeName);
    const profile: Profile = {
      recipe,
      ep: params.ep ?? 'cpu',
      measured: {
        runId: input.runId,
        settings: params.settings ?? 'cases',
        speedup: measured?.speedup ?? null,
        speedupCi: measured?.speedupCi ?? null,
      },
    };
    this.deps.bench.saveProfile({
      name,
      model: detail.model,
      recipeJson: JSON.stringify(profile),
      sourceRunId: input.runId,
      makeDefault: input.makeDefault,
    });
    return { name, model: detail.model, recipe: recipeName, isDefault: input.makeDefault };
  }
}

/** The v2 figures stored beside a recipe's row (absent on older rows). */
function pickExtra(extra: Record<string, unknown>): Partial<RecipeOutcome> {
  const parsed = RecipeOutcomeSchema.pick({
    speedupCi: true,
    loadMs: true,
    firstImageMs: true,
    restartLoadMs: true,
    tier: true,
    contributions: true,
    adherence: true,
  }).safeParse(extra);
  return parsed.success ? parsed.data : {};
}
