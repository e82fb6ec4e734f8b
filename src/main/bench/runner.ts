import type {
  BenchProgress,
  BenchResult,
  Priority,
  RecipeOutcome,
} from '../../shared/bench-schemas';
import type { ExecutionProvider, HardwareInfo, ModelSummary } from '../../shared/schemas';
import { StudioError } from '../../shared/errors';
import type { BenchRepo } from '../store/bench-repo';
import { isAcceleratorProvider } from './diagnosis';
import {
  caseSpeedup,
  fitVerdict,
  judgeCase,
  judgeRecipe,
  pickWinner,
  type JudgedRecipe,
} from './judge';
import { measureRecipe, type CaseRun, type MeasureSetup } from './measure';
import type { Recipe } from './recipes';
import type { CaseAdherence } from '../workers/quality-worker';
import { RecipeRecord } from './record';
import { stats } from './stats';
import type { TestSet } from './test-sets';
import { joinsStacks, planStacks } from './tiers';

/**
 * The benchmark run: measure (measure.ts) each recipe, judge it (judge.ts, quality.ts, stats.ts)
 * against the baseline case by case, record it (record.ts) as it goes; then compose the single
 * strategies that passed into tiers (tiers.ts), measure those stacks, and pick the winner.
 */

export interface BenchPlan {
  runId: number;
  /** LATENT_STUDIO_HOME (the variant store lives under it). */
  home: string;
  jobId: string;
  model: { name: string; dir: string; sizeBytes: number; family: ModelSummary['family'] };
  /** The baseline first. */
  recipes: Recipe[];
  testSet: TestSet;
  settings: 'model' | 'cases';
  /** The model's default steps (what `generate` uses without options). */
  defaultSteps: number;
  repeats: number;
  warmup: number;
  ep: ExecutionProvider;
  hardware: HardwareInfo;
  imagesDir: string;
  profileOps: boolean;
  /** Images per call: 1 for latency, more for throughput (figures are then per image). */
  batch: number;
  priority: Priority;
  /** Compose and measure the tiers after the single strategies. */
  stack: boolean;
  /** Run the baseline alternately with each candidate (a second engine) for the paired speed-up. */
  interleave: boolean;
  /**
   * Adaptive repeats with the interleaved baseline (`MeasureSetup.adaptive`); absent: measure's
   * default (on for the CPU provider).
   */
  adaptive?: boolean;
  skipped: { recipe: string; reason: string }[];
  /**
   * The time budget (budget.ts): a recipe whose predicted measurement would end past the deadline
   * (plus 10%) is not started; the run finishes with what it has, each left-out recipe saying so.
   */
  budget?: {
    budgetSeconds: number;
    predictedSeconds: number;
    /** Date.now() when the run (its calibration included) started. */
    startedAt: number;
    /** Predicted seconds per recipe name (stacks: the costliest part's). */
    perRecipe: Record<string, number>;
  };
}

export interface BenchHooks {
  onProgress(p: BenchProgress): void;
  isCancelled(): boolean;
  /** The engine process that measures now, so the live sampler can watch it. */
  onEngine?(pid: number | undefined): void;
}

interface Measured {
  outcome: RecipeOutcome;
  cases: CaseRun[];
  /** What the explanation says beside the outcome: how the interval was made, the machine's load. */
  notes?: Pick<JudgedRecipe, 'speedMethod' | 'loadAvg'>;
}

export async function runBenchmark(
  plan: BenchPlan,
  repo: BenchRepo,
  hooks: BenchHooks,
): Promise<BenchResult> {
  const baseline = plan.recipes[0];
  let recipeCount = plan.recipes.length;
  const measured: Measured[] = [];
  let baseCases: CaseRun[] = [];
  /** The baseline's prompt adherence: what a distilled recipe is held to. */
  let baseAdherence: RecipeOutcome['adherence'] = null;
  /** Each single recipe's speed-up alone, for the stacks' contributions. */
  const alone = new Map<string, number | null>();

  const runOne = async (recipe: Recipe, position: number): Promise<Measured> => {
    const isBaseline = position === 0;
    const record = new RecipeRecord(repo, plan.imagesDir, plan.runId, position, recipe);
    const progress: MeasureSetup['progress'] = (caseIndex, phase, extra) =>
      hooks.onProgress({
        jobId: plan.jobId,
        runId: plan.runId,
        recipe: recipe.name,
        recipeIndex: position,
        recipeCount,
        caseIndex,
        caseCount: plan.testSet.cases.length,
        phase,
        ...extra,
      });
    const cases: CaseRun[] = [];
    const quality: { ssim: number; psnr: number }[] = [];
    const adherence: CaseAdherence[] = [];
    try {
      const setup = measureSetup(plan, hooks, progress);
      if (plan.interleave && !isBaseline) setup.reference = baseline;
      if (plan.adaptive !== undefined) setup.adaptive = plan.adaptive;
      // Start-up with warm caches: the baseline's, and each recipe's that caches its optimized model.
      setup.restartLoad = isBaseline || recipe.runConfig.optimizedModelCache !== undefined;
      const run = await measureRecipe(setup, recipe, async (c) => {
        const judged = await judgeCase(c, isBaseline ? undefined : baseCases[c.caseIndex]?.png);
        const q = judged.quality;
        if (q) quality.push(q);
        if (judged.adherence) adherence.push(judged.adherence);
        const images = record.writeImages(c.caseIndex, c.png, q?.heatmap ?? null);
        record.addCase(c, stats(c.latencies), images, {
          ssim: q?.ssim ?? null,
          psnr: q?.psnr ?? null,
        });
        cases.push(c);
      });
      const outcome = judgeRecipe({
        recipe,
        run,
        cases,
        quality,
        adherence,
        baseAdherence,
        baseCases: isBaseline ? null : baseCases,
        alone,
      });
      const speed = isBaseline ? null : caseSpeedup(cases, baseCases);
      const notes: Measured['notes'] = {
        ...(speed ? { speedMethod: { method: speed.method, n: speed.n } } : {}),
        ...(run.loadAvg ? { loadAvg: run.loadAvg } : {}),
      };
      // Today every latency comes from whole images measured end to end.
      outcome.measuredEndToEnd = true;
      if (run.loadAvg) outcome.loadAvg = run.loadAvg;
      if (speed) outcome.speedupMethod = { method: speed.method, n: speed.n };
      record.finish(outcome, {
        idleRssMb: run.idleRssMb,
        modelSizeMb: plan.model.sizeBytes / 2 ** 20,
        provider: plan.ep,
        ramTotalMb: plan.hardware.memory.totalMb,
        ...notes,
      });
      progress(plan.testSet.cases.length - 1, 'done');
      return { outcome, cases, notes };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // Cancelled: the recipe being measured never finished, which is not a failure of it.
      if (error instanceof StudioError && error.code === 'cancelled') {
        record.fail(message, 'cancelled');
        progress(0, 'cancelled');
        throw error;
      }
      const verdict =
        error instanceof StudioError && error.code === 'too-large' ? 'does-not-fit' : 'failed';
      record.fail(message, verdict);
      progress(0, 'failed');
      return { outcome: failedOutcome(recipe, message, verdict), cases: [] };
    }
  };

  const budgetSkips: BenchResult['skipped'] = [];
  /** Whether the budget leaves room for a recipe predicted to take `seconds` (the baseline always runs). */
  const fitsBudget = (name: string, seconds: number): boolean => {
    const b = plan.budget;
    if (!b) return true;
    const elapsed = (Date.now() - b.startedAt) / 1000;
    if (elapsed + seconds <= b.budgetSeconds * 1.1) return true;
    budgetSkips.push({
      recipe: name,
      reason: `not measured: the time budget of ${(b.budgetSeconds / 60).toFixed(0)} min would be overrun (${(elapsed / 60).toFixed(1)} min spent, ${(seconds / 60).toFixed(1)} min predicted for it); give the wizard more time to measure it`,
    });
    return false;
  };

  for (const [position, recipe] of plan.recipes.entries()) {
    if (position > 0 && !fitsBudget(recipe.name, plan.budget?.perRecipe[recipe.name] ?? 0))
      continue;
    const m = await runOne(recipe, position);
    if (position === 0) {
      baseCases = m.cases;
      baseAdherence = m.outcome.adherence ?? null;
    }
    alone.set(recipe.name, m.outcome.speedup);
    measured.push(m);
  }

  // Tiers: compose the single strategies that passed and measure each stack as a candidate.
  const byName = new Map(plan.recipes.map((r) => [r.name, r]));
  const stackSkips: BenchResult['skipped'] = [];
  if (plan.stack && measured[0].outcome.status === 'ok') {
    const passed = measured
      .map((m) => ({ recipe: byName.get(m.outcome.name), o: m.outcome }))
      .filter((p) => p.recipe !== undefined && joinsStacks(p.recipe, p.o))
      .map((p) => ({
        recipe: p.recipe as Recipe,
        speedup: p.o.speedup ?? 1,
        keepsPixels: p.o.verdict !== 'different-pixels',
      }));
    const { stacks, skipped } = planStacks(passed);
    stackSkips.push(...skipped);
    recipeCount += stacks.length;
    for (const stack of stacks) {
      const parts = stack.stack?.of ?? [];
      const predicted = Math.max(0, ...parts.map((n) => plan.budget?.perRecipe[n] ?? 0));
      if (!fitsBudget(stack.name, predicted)) continue;
      measured.push(await runOne(stack, measured.length));
    }
  }

  const outcomes = measured.map((m) => m.outcome);
  const explanatory = new Set(plan.recipes.filter((r) => r.explanatory).map((r) => r.name));
  const { winner, explanation } = pickWinner(
    measured.map(({ outcome: o, notes }) => ({
      name: o.name,
      status: o.status,
      verdict: o.verdict,
      latencyMean: o.latencyMs?.mean ?? null,
      speedup: o.speedup,
      speedupCi: o.speedupCi ?? null,
      peakRssMb: o.peakRssMb,
      ssim: o.ssim,
      psnr: o.psnr,
      error: o.error ?? null,
      explanatory: explanatory.has(o.name),
      adherence: o.adherence ?? null,
      ...notes,
    })),
    baseline.name,
    plan.priority,
  );
  const w = outcomes.find((o) => o.name === winner);
  if (w) w.verdict = 'recommended';
  return {
    runId: plan.runId,
    model: plan.model.name,
    baseline: baseline.name,
    testSet: plan.testSet.name,
    recipes: outcomes,
    recommended: winner,
    explanation,
    skipped: [...plan.skipped, ...stackSkips, ...budgetSkips],
    priority: plan.priority,
    settings: plan.settings,
    ep: plan.ep,
    interleaved: plan.interleave,
    ...(plan.budget
      ? {
          budgetSeconds: plan.budget.budgetSeconds,
          predictedSeconds: plan.budget.predictedSeconds,
          elapsedSeconds: (Date.now() - plan.budget.startedAt) / 1000,
        }
      : {}),
  };
}

function measureSetup(
  plan: BenchPlan,
  hooks: BenchHooks,
  progress: MeasureSetup['progress'],
): MeasureSetup {
  const gpu = isAcceleratorProvider(plan.ep);
  const vram = plan.hardware.gpus.reduce<number | null>(
    (a, g) => (g.vramMb ? Math.max(a ?? 0, g.vramMb) : a),
    null,
  );
  return {
    jobId: plan.jobId,
    home: plan.home,
    model: plan.model,
    settings: plan.settings,
    defaultSteps: plan.defaultSteps,
    testSet: plan.testSet,
    repeats: plan.repeats,
    warmup: plan.warmup,
    ep: plan.ep,
    physicalCores: plan.hardware.cpu.physicalCores || plan.hardware.cpu.cores,
    batch: plan.batch,
    imagesDir: plan.imagesDir,
    profileOps: plan.profileOps,
    fit: (bytes) =>
      gpu
        ? fitVerdict(bytes, vram, 'the GPU')
        : fitVerdict(bytes, plan.hardware.memory.availableMb, 'this machine'),
    isCancelled: hooks.isCancelled,
    onEngine: hooks.onEngine,
    progress,
  };
}

function failedOutcome(recipe: Recipe, error: string, verdict: string): RecipeOutcome {
  return {
    name: recipe.name,
    title: recipe.title,
    status: 'failed',
    error,
    latencyMs: null,
    stagesMs: null,
    peakRssMb: null,
    cpuPercent: null,
    ssim: null,
    psnr: null,
    speedup: null,
    verdict,
  };
}
