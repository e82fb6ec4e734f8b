import type { RecipeOutcome } from '../../shared/bench-schemas';
import { RecipeSchema, type Recipe, type Tier } from './recipes';

/**
 * Stacked tiers: after the single strategies are measured, the ones that passed are composed,
 * basic -> intermediate -> advanced, and each stack is measured as its own candidate.
 * - basic: session, graph and memory settings (runConfig only, same weights, same sampling);
 * - intermediate: basic + the best passing scheduler recipe (fewer steps);
 * - advanced: intermediate + the best passing model variant (quantization, attention fusion...).
 * A tier is proposed only when it composes at least two strategies and differs from the tier below.
 */

const TIER_OF: Record<string, Tier | undefined> = {
  session: 'basic',
  graph: 'basic',
  memory: 'basic',
  scheduler: 'intermediate',
  quantization: 'advanced',
};

export interface PassedSingle {
  recipe: Recipe;
  speedup: number;
}

/** Composes recipes: later parts override earlier session fields; sampling and variant come from the one part that sets them. */
export function composeRecipes(tier: Tier, parts: readonly Recipe[]): Recipe {
  const variant = parts.find((p) => p.variant !== 'source')?.variant ?? 'source';
  const sampling = parts.find((p) => Object.keys(p.sampling).length > 0)?.sampling ?? {};
  return RecipeSchema.parse({
    name: `stack-${tier}`,
    version: 1,
    title: `Stacked: ${parts.map((p) => p.name).join(' + ')}`,
    strategy: 'stack',
    description: `The ${tier} tier: ${parts.map((p) => p.title).join('; ')}, measured together.`,
    variant,
    runConfig: Object.assign({}, ...parts.map((p) => p.runConfig)) as Recipe['runConfig'],
    sampling,
    stack: { tier, of: parts.map((p) => p.name) },
  });
}

/**
 * The stacks to measure from the singles that passed (verdict `faster`, not explanatory). Per
 * tier, every passing basic setting joins (the fastest first, so it wins a conflicting field);
 * of schedulers and variants only the fastest, since two of them cannot apply at once.
 */
export function planStacks(passed: readonly PassedSingle[]): Recipe[] {
  const byTier = (tier: Tier) =>
    passed
      .filter((p) => TIER_OF[p.recipe.strategy] === tier)
      .sort((a, b) => b.speedup - a.speedup)
      .map((p) => p.recipe);
  // Fastest first in the list, but applied last so its fields win.
  const basic = byTier('basic').reverse();
  const scheduler = byTier('intermediate').slice(0, 1);
  const variant = byTier('advanced').slice(0, 1);
  const tiers: [Tier, Recipe[]][] = [
    ['basic', basic],
    ['intermediate', [...basic, ...scheduler]],
    ['advanced', [...basic, ...scheduler, ...variant]],
  ];
  const stacks: Recipe[] = [];
  let below = 0;
  for (const [tier, parts] of tiers) {
    if (parts.length >= 2 && parts.length > below) stacks.push(composeRecipes(tier, parts));
    if (parts.length > below) below = parts.length;
  }
  return stacks;
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
