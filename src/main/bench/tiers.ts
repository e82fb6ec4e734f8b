import type { RecipeOutcome } from '../../shared/bench-schemas';
import { DIFFERENT_PIXELS } from './judge';
import { RecipeSchema, type Recipe, type Tier } from './recipes';
import { composeVariant, variantParts } from './variants';

/**
 * Stacked tiers: after the single strategies are measured, the ones that passed are composed,
 * basic -> intermediate -> advanced, and each stack is measured as its own candidate.
 * - basic: session, graph and memory settings (runConfig only, same weights, same sampling);
 * - intermediate: basic + the best passing scheduler recipe (fewer steps);
 * - advanced: intermediate + every passing model variant that composes (attention fusion and the
 *   fastest quantization, built as one combined variant, e.g. `attention+int8`);
 * - distilled (an advanced stack too): basic + the same variants + the best passing distillation
 *   recipe, whose LoRA is merged under them and whose scheduler/steps/guidance replace the
 *   scheduler recipe's: a stack holds one sampling change.
 * A tier is proposed only when it composes at least two strategies and differs from the tier below.
 */

/** What a single recipe changes, which decides where it goes in a stack. */
export type StackRole = 'settings' | 'sampling' | 'variant' | 'distillation' | 'caching';

/** Sampling fields that change how the UNet is evaluated, not the trajectory: they stack with a scheduler. */
const CACHING_FIELDS = ['featureCache', 'guidanceInterval'] as const;

const changesTrajectory = (r: Recipe): boolean =>
  Object.keys(r.sampling).some((k) => !(CACHING_FIELDS as readonly string[]).includes(k));

/**
 * By what a recipe changes rather than its strategy label: `attention` is a graph strategy but a
 * model variant, `fp16-storage` a memory strategy but a variant; a distillation recipe changes
 * both the weights (its LoRA) and the sampling, as one.
 */
export function stackRole(recipe: Recipe): StackRole | undefined {
  if (recipe.strategy === 'baseline' || recipe.strategy === 'stack' || recipe.stack)
    return undefined;
  if (recipe.strategy === 'distillation') return 'distillation';
  // Feature caching brings its variant (the UNet pair) but is chosen as a sampling change.
  if (recipe.strategy === 'caching') return 'caching';
  if (recipe.variant !== 'source') return 'variant';
  if (Object.keys(recipe.sampling).length > 0) return 'sampling';
  return 'settings';
}

export interface PassedSingle {
  recipe: Recipe;
  speedup: number;
  /** Passed on pixels (`faster`), not only on prompt adherence (`different-pixels`). */
  keepsPixels?: boolean;
}

/** A `no-gain` single whose point estimate is at least this joins the stacks (see joinsStacks). */
export const STACK_JOIN_SPEEDUP = 1.03;

/**
 * Whether a measured single joins the stacks: it is `faster` (acceptable quality, interval above 1,
 * a real gain), or `no-gain` with acceptable quality and a point estimate of at least
 * STACK_JOIN_SPEEDUP (a likely gain its interval could not prove). The stack is measured and judged
 * again as its own candidate, so a part that does not help shows there; letting such parts in keeps
 * a recipe whose interval straddles the bar from deciding, run by run, whether the stack exists at
 * all (attention at 1.05-1.06x made the recommendation flip between the stack and the student
 * alone between two runs of one command). A distilled student draws its own pixels by design, so it
 * joins when the judge found it faster and drawing the prompts as well as the baseline
 * (`different-pixels`). Explanatory recipes never join.
 */
export function joinsStacks(
  recipe: Recipe,
  outcome: Pick<RecipeOutcome, 'verdict'> & { speedup?: number | null },
): boolean {
  if (recipe.explanatory || stackRole(recipe) === undefined) return false;
  return (
    outcome.verdict === 'faster' ||
    (outcome.verdict === 'no-gain' && (outcome.speedup ?? 0) >= STACK_JOIN_SPEEDUP) ||
    (recipe.strategy === 'distillation' && outcome.verdict === DIFFERENT_PIXELS)
  );
}

/**
 * Composes recipes: later parts override earlier session fields; the model variant is all the
 * parts' variants combined into one (composeVariant: a refused combination throws); the sampling
 * comes from the one part that changes it (two would each undo the other's steps).
 */
export function composeRecipes(
  tier: Tier,
  parts: readonly Recipe[],
  name = `stack-${tier}`,
): Recipe {
  const sampling = parts.filter(changesTrajectory);
  if (sampling.length > 1)
    throw new Error(
      `a stack takes one sampling change, not ${sampling.map((p) => p.name).join(' and ')}`,
    );
  const caching = parts.filter((p) => p.strategy === 'caching');
  for (const field of CACHING_FIELDS) {
    const setting = caching.filter((p) => p.sampling[field] !== undefined);
    if (setting.length > 1)
      throw new Error(
        `a stack takes one ${field}, not ${setting.map((p) => p.name).join(' and ')}`,
      );
  }
  const distilled = parts.some((p) => p.strategy === 'distillation');
  return RecipeSchema.parse({
    name,
    version: 1,
    title: `Stacked: ${parts.map((p) => p.name).join(' + ')}`,
    // A stack with a distilled student draws the student's pixels: the judge must hold it to
    // prompt adherence as it does its single (verdictFor keys that on the strategy).
    strategy: distilled ? 'distillation' : 'stack',
    description: `The ${tier} tier${distilled ? ' (distilled)' : ''}: ${parts.map((p) => p.title).join('; ')}, measured together.`,
    variant: composeVariant(parts.map((p) => p.variant)),
    runConfig: Object.assign({}, ...parts.map((p) => p.runConfig)) as Recipe['runConfig'],
    sampling: Object.assign({}, sampling[0]?.sampling ?? {}, ...caching.map((p) => p.sampling)),
    stack: { tier, of: parts.map((p) => p.name) },
  });
}

export interface StackPlan {
  stacks: Recipe[];
  /** Combinations refused, and why (recorded in the run's skipped list). */
  skipped: { recipe: string; reason: string }[];
}

const x = (v: number): string => `${v.toFixed(2)}x`;

/**
 * The stacks to measure from the singles that passed (joinsStacks). Every passing setting joins
 * (the fastest last, so it wins a conflicting field); of schedulers and of distilled students only
 * the fastest, since a stack holds one sampling change; of variants, every one that composes with
 * the faster ones already taken (attention fusion with a quantization; never two quantizations of
 * the same weights), each refusal recorded with its reason.
 */
export function planStacks(passed: readonly PassedSingle[]): StackPlan {
  const skipped: StackPlan['skipped'] = [];
  const byRole = (role: StackRole) =>
    passed.filter((p) => stackRole(p.recipe) === role).sort((a, b) => b.speedup - a.speedup);
  // Fastest first in the list, but applied last so its fields win.
  const basic = byRole('settings')
    .map((p) => p.recipe)
    .reverse();
  const scheduler = byRole('sampling')
    .slice(0, 1)
    .map((p) => p.recipe);

  // The fastest passing feature cache, and guidance truncation when it passed: each changes how
  // the UNet is evaluated, so both stack with the scheduler recipe and with each other.
  const cachingPassed = byRole('caching');
  const caches = [
    cachingPassed.find((p) => p.recipe.sampling.featureCache),
    cachingPassed.find((p) => p.recipe.sampling.guidanceInterval),
  ].flatMap((p) => (p ? [p.recipe] : []));
  for (const p of cachingPassed.filter(
    (c) => c.recipe.sampling.featureCache && !caches.includes(c.recipe),
  ))
    skipped.push({
      recipe: p.recipe.name,
      reason: `not stacked: a stack takes one feature-cache interval and ${caches[0]?.name} is faster alone`,
    });

  const variants: PassedSingle[] = [];
  for (const v of byRole('variant')) {
    const refused = refusal([...variants, v].map((p) => p.recipe.variant));
    if (!refused) {
      variants.push(v);
      continue;
    }
    // Name the part it clashes with when one does (int8 for int4), else all that were kept.
    const clash = variants.find((k) => refusal([k.recipe.variant, v.recipe.variant]));
    const kept = clash ? [clash] : variants;
    skipped.push({
      recipe: [...kept, v].map((p) => p.recipe.name).join('+'),
      reason: `not stacked: ${refused}; the stacks keep ${kept.map((p) => p.recipe.name).join('+')}, faster alone (${kept.map((p) => x(p.speedup)).join(', ')} against ${x(v.speedup)})`,
    });
  }

  // A student that keeps the baseline's pixels first: its stack can be recommended, while one
  // built on a different-pixels student never can, however fast.
  const students = byRole('distillation').sort(
    (a, b) => Number(b.keepsPixels ?? false) - Number(a.keepsPixels ?? false),
  );
  for (const s of students.slice(1)) {
    skipped.push({
      recipe: `${students[0].recipe.name}+${s.recipe.name}`,
      reason: `not stacked: a stack takes one sampling change and ${students[0].recipe.name} ${students[0].keepsPixels && !s.keepsPixels ? 'keeps the baseline pictures' : 'is faster alone'} (${x(students[0].speedup)} against ${x(s.speedup)})`,
    });
  }
  let student: PassedSingle | undefined = students[0];
  if (student) {
    const refused = refusal([student.recipe.variant, ...variants.map((p) => p.recipe.variant)]);
    if (refused) {
      skipped.push({
        recipe: 'stack-distilled',
        reason: `not stacked: ${student.recipe.name} on ${variants.map((p) => p.recipe.name).join('+')}: ${refused}`,
      });
      student = undefined;
    }
  }

  const variantRecipes = variants.map((p) => p.recipe);
  const tiers: [Tier, Recipe[]][] = [
    ['basic', basic],
    ['intermediate', [...basic, ...scheduler, ...caches]],
    ['advanced', [...basic, ...scheduler, ...caches, ...variantRecipes]],
  ];
  const stacks: Recipe[] = [];
  let below = 0;
  for (const [tier, parts] of tiers) {
    if (parts.length >= 2 && parts.length > below) stacks.push(composeRecipes(tier, parts));
    if (parts.length > below) below = parts.length;
  }
  // The distilled form of the advanced tier: the student's sampling instead of the scheduler's.
  const distilled = student ? [...basic, ...variantRecipes, student.recipe] : [];
  if (distilled.length >= 2) stacks.push(composeRecipes('advanced', distilled, 'stack-distilled'));
  return { stacks, skipped };
}

/** Why these variants cannot be one model, or undefined. */
function refusal(variants: readonly string[]): string | undefined {
  const parts = variantParts(variants.filter((v) => v !== 'source').join('+') || 'source');
  return 'refused' in parts ? parts.refused : undefined;
}

/** Each composed strategy's speed-up alone and its share of the stack's, in log terms. */
export function contributions(
  stack: Recipe,
  stackSpeedup: number | null,
  alone: ReadonlyMap<string, number | null>,
): NonNullable<RecipeOutcome['contributions']> {
  return (stack.stack?.of ?? []).map((name) => {
    const a = alone.get(name) ?? null;
    const share =
      a !== null && stackSpeedup !== null && stackSpeedup > 0 && Math.log(stackSpeedup) !== 0
        ? Math.log(a) / Math.log(stackSpeedup)
        : null;
    return { recipe: name, speedupAlone: a, share };
  });
}
