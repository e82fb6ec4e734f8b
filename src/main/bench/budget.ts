import { fullSteps, guidedStep } from '../engine/feature-cache-schedule';
import type { PipelineResult } from '../engine/protocol';
import { recipeSteps, type Recipe } from './recipes';
import { ADAPTIVE_CHEAP_PAIR_MS, ADAPTIVE_MAX_FACTOR, ENGINE_SWITCH_SETTLE_MS } from './measure';

/**
 * The wizard's time budget: what a benchmark run will cost on this model and machine, predicted
 * from a short calibration, and the plan trimmed until it fits the minutes the person gave it.
 *
 * The calibration is one real generation at the person's size with 3 denoising steps on a fresh
 * engine: its session load, text encoder, UNet steps (the fastest after the first is the steady
 * cost; the first carries the arena's growth) and VAE decode. Every image of the plan is then costed from those
 * stages and the schedule the recipe runs (its steps, its full and shallow UNet calls under a
 * feature cache, its single-row steps outside a guidance interval), so a plan is known before
 * anything long runs. A model variant not yet built adds its build, estimated from the model's
 * size. The prediction is checked against what the run took (`elapsedSeconds`).
 */

export interface Calibration {
  /** Session creation of every component on a fresh engine, ms. */
  loadMs: number;
  textEncoderMs: number;
  /** One steady UNet call at the plan's rows (2 with classifier-free guidance), ms. */
  unetStepMs: number;
  /** The first UNet call (arena growth, page faults), ms. */
  firstStepMs: number;
  vaeMs: number;
  /** Everything else of an image (tokenize, scheduler, PNG), ms. */
  otherMs: number;
  /** The calibration's own wall time, ms. */
  wallMs: number;
  /** The steps and guidance the plan's images run at (the model's defaults). */
  steps: number;
  guidance: number;
}

/** Reads a calibration from the 3-step generation's timings. */
export function calibrationFrom(
  result: Pick<PipelineResult, 'timings'>,
  wallMs: number,
  defaults: { steps: number; guidance: number },
): Calibration {
  const t = result.timings;
  const per = t.unetPerStep;
  // The fastest step after the first: one sample on a shared machine is easily caught by another
  // program's burst, and the plan is costed from what the steps take when nothing else runs.
  const steady = per.length > 1 ? Math.min(...per.slice(1)) : (per[0] ?? t.unet);
  const other = Math.max(0, t.total - t.textEncoder - t.unet - t.vae);
  return {
    loadMs: t.load,
    textEncoderMs: t.textEncoder,
    unetStepMs: steady,
    firstStepMs: per[0] ?? steady,
    vaeMs: t.vae,
    otherMs: other,
    wallMs,
    steps: defaults.steps,
    guidance: defaults.guidance,
  };
}

/**
 * What a shallow UNet call costs against a full one, and a single-row call against a CFG one,
 * before either is measured: the shallow branch's share measured on a full-size SD 1.5 (0.27,
 * docs/benchmarks.md) and a batch-1 call's (0.49). Only predictions use them; speed-ups are measured.
 */
export const SHALLOW_SHARE = 0.3;
export const SINGLE_ROW_SHARE = 0.55;

/** One image of `recipe` in ms, composed from the calibrated stages and the schedule it runs. */
export function imageCostMs(cal: Calibration, recipe: Recipe): number {
  const steps = recipeSteps(recipe, cal.steps);
  const s = recipe.sampling;
  const guidance = s.guidance ?? cal.guidance;
  const full = fullSteps(steps, s.featureCache);
  let unet = 0;
  for (let i = 0; i < steps; i++) {
    const rows = guidance > 1 && !guidedStep(i, steps, s.guidanceInterval) ? SINGLE_ROW_SHARE : 1;
    const call = full.has(i) ? 1 : SHALLOW_SHARE;
    unet += cal.unetStepMs * rows * call;
  }
  // One UNet row instead of two costs about half when guidance is off altogether.
  if (!(guidance > 1) && cal.guidance > 1) unet *= SINGLE_ROW_SHARE;
  return cal.textEncoderMs + unet + cal.vaeMs + cal.otherMs;
}

/** Ours: judging and recording one case's image (PNG decode, SSIM, heatmap, the store), ms. */
const JUDGE_MS = 60;

/** Bytes a second a variant build reads, transforms, writes and checks (SD 1.5: 5.2 GB in 51 s). */
const BUILD_BYTES_PER_MS = 60_000;

export interface BudgetInput {
  cal: Calibration;
  /** The baseline first, then the candidates in the wizard's order (most telling first). */
  recipes: readonly Recipe[];
  cases: number;
  repeats: number;
  warmup: number;
  interleave: boolean;
  /** Stacks of the passing singles will be measured after them (at most one is reserved for). */
  stack: boolean;
  budgetSeconds: number;
  /** Whether a recipe's variant still has to be built (and so costs its build). */
  needsBuild: (recipe: Recipe) => boolean;
  modelBytes: number;
}

export interface PlanPhase {
  name: 'calibrate' | 'build' | 'baseline' | 'candidates' | 'stacks';
  predictedSeconds: number;
}

export interface BudgetPlan {
  budgetSeconds: number;
  predictedSeconds: number;
  phases: PlanPhase[];
  /** The recipes that will be measured, baseline first. */
  candidates: string[];
  cases: number;
  repeats: number;
  warmup: number;
  /** Recipes left out to fit the budget, with the reason. */
  dropped: { recipe: string; reason: string }[];
  /** Each recipe's predicted measurement seconds (its build included). */
  perRecipe: Record<string, number>;
  /** The whole default plan's prediction before anything was trimmed. */
  untrimmedSeconds: number;
}

/** The measurement of one recipe, seconds: its engine starts, warm-ups and measured pairs. */
export function recipeSeconds(
  input: Pick<BudgetInput, 'cal' | 'cases' | 'repeats' | 'warmup' | 'interleave'>,
  recipe: Recipe,
  baseline: Recipe,
): number {
  const { cal } = input;
  const own = imageCostMs(cal, recipe);
  const base = imageCostMs(cal, baseline);
  const isBaseline = recipe === baseline;
  const paired = input.interleave && !isBaseline;
  const engines = paired ? 2 : 1;
  const pairMs = own + (paired ? base : 0) + (paired ? 2 * ENGINE_SWITCH_SETTLE_MS : 0);
  // Adaptive repeats add pairs while the interval is wide and a pair is cheap: the prediction
  // counts them at their cap, so the budget errs on the side of finishing in time.
  const adaptive = paired && pairMs <= ADAPTIVE_CHEAP_PAIR_MS ? ADAPTIVE_MAX_FACTOR : 1;
  const perCase = input.repeats * adaptive * pairMs + JUDGE_MS;
  const warm = input.warmup * pairMs;
  // The baseline also starts a fresh engine once more for its restart load.
  const loads = (engines + (isBaseline ? 1 : 0)) * cal.loadMs;
  return (loads + warm + input.cases * perCase) / 1000;
}

function predict(input: BudgetInput, recipes: readonly Recipe[]) {
  const [baseline, ...candidates] = recipes;
  const perRecipe: Record<string, number> = {};
  let build = 0;
  const builds = new Set<string>();
  for (const r of candidates) {
    if (r.variant !== 'source' && input.needsBuild(r) && !builds.has(r.variant)) {
      builds.add(r.variant);
      const s = input.modelBytes / BUILD_BYTES_PER_MS / 1000 + (2 * input.cal.loadMs) / 1000;
      build += s;
      perRecipe[r.name] = s;
    }
  }
  const baseSeconds = recipeSeconds(input, baseline, baseline);
  perRecipe[baseline.name] = baseSeconds;
  let cands = 0;
  let costliest = 0;
  for (const r of candidates) {
    const s = recipeSeconds(input, r, baseline);
    perRecipe[r.name] = (perRecipe[r.name] ?? 0) + s;
    cands += s;
    costliest = Math.max(costliest, s);
  }
  // A stack costs about what its costliest part does; one is reserved for.
  const stacks = input.stack && candidates.length >= 2 ? costliest : 0;
  const phases: PlanPhase[] = [
    { name: 'calibrate', predictedSeconds: input.cal.wallMs / 1000 },
    { name: 'build', predictedSeconds: build },
    { name: 'baseline', predictedSeconds: baseSeconds },
    { name: 'candidates', predictedSeconds: cands },
    { name: 'stacks', predictedSeconds: stacks },
  ];
  return {
    phases,
    perRecipe,
    total: phases.reduce((a, p) => a + p.predictedSeconds, 0),
  };
}

/**
 * The plan that fits the budget: first fewer repeats (down to 2, then 1: the pairs pool over the
 * cases), then fewer cases (down to 1), then the candidates at the end of the wizard's list are
 * left out, each with the reason. The baseline and the first candidate always stay: a plan that
 * still does not fit says so in its prediction (the run then stops at the budget).
 */
export function planToBudget(input: BudgetInput): BudgetPlan {
  let recipes = [...input.recipes];
  let { repeats, cases, warmup } = input;
  const untrimmed = predict(input, recipes).total;
  const fits = () =>
    predict({ ...input, repeats, cases, warmup }, recipes).total <= input.budgetSeconds;
  const dropped: BudgetPlan['dropped'] = [];
  while (!fits() && repeats > 2) repeats--;
  while (!fits() && cases > 3) cases--;
  while (!fits() && repeats > 1) repeats--;
  while (!fits() && warmup > 0) warmup--;
  while (!fits() && cases > 1) cases--;
  while (!fits() && recipes.length > 2) {
    const last = recipes[recipes.length - 1];
    recipes = recipes.slice(0, -1);
    dropped.push({
      recipe: last.name,
      reason: `left out to fit the time budget of ${(input.budgetSeconds / 60).toFixed(0)} min (predicted ${(predict({ ...input, repeats, cases, warmup }, [...recipes, last]).total / 60).toFixed(1)} min with it); give the wizard more time to measure it`,
    });
  }
  const p = predict({ ...input, repeats, cases, warmup }, recipes);
  return {
    budgetSeconds: input.budgetSeconds,
    predictedSeconds: p.total,
    phases: p.phases,
    candidates: recipes.map((r) => r.name),
    cases,
    repeats,
    warmup,
    dropped: dropped.reverse(),
    perRecipe: p.perRecipe,
    untrimmedSeconds: untrimmed,
  };
}

/** What fitting the plan to the time budget changed, in words for the explanation ('' when nothing). */
export function trimmedText(
  asked: { repeats: number; warmup: number; budgetMinutes: number },
  cases: number,
  plan: { repeats: number; warmup: number; cases: number; dropped: unknown[] },
): string {
  const changes = [
    plan.repeats < asked.repeats ? `${plan.repeats} repeats instead of ${asked.repeats}` : '',
    plan.cases < cases ? `${plan.cases} of the ${cases} prompts` : '',
    plan.warmup < asked.warmup ? 'no warm-up run' : '',
    plan.dropped.length > 0 ? `${plan.dropped.length} candidates left out (see skipped)` : '',
  ].filter(Boolean);
  return changes.length === 0
    ? ''
    : `To fit the ${asked.budgetMinutes}-minute budget the plan ran ${changes.join(', ')}; give the benchmark more time for tighter figures.`;
}
