import { describe, expect, it } from 'vitest';
import { findRecipe } from './recipes';
import { composeRecipes, contributions, planStacks } from './tiers';

const p = (name: string, speedup: number) => ({ recipe: findRecipe(name), speedup });

describe('stacked tiers', () => {
  it('composes passing strategies basic -> intermediate -> advanced', () => {
    const stacks = planStacks([
      p('threads-physical', 1.1),
      p('graph-all-cached', 1.06),
      p('dpm-fast', 2.2),
      p('dpm-half', 1.8),
      p('int8', 1.3),
    ]);
    expect(stacks.map((s) => [s.stack?.tier, s.stack?.of])).toEqual([
      ['basic', ['graph-all-cached', 'threads-physical']],
      ['intermediate', ['graph-all-cached', 'threads-physical', 'dpm-fast']],
      ['advanced', ['graph-all-cached', 'threads-physical', 'dpm-fast', 'int8']],
    ]);
    const advanced = stacks[2];
    expect(advanced).toMatchObject({
      strategy: 'stack',
      variant: 'int8',
      sampling: { scheduler: 'dpm++2m-karras', stepsFactor: 0.4 },
      runConfig: { intraOpThreads: 'physical-cores', optimizedModelCache: true },
    });
  });

  it('proposes no stack of one strategy, and no tier equal to the one below', () => {
    expect(planStacks([p('dpm-fast', 2)])).toEqual([]);
    expect(planStacks([p('dpm-fast', 2), p('int8', 1.2)]).map((s) => s.name)).toEqual([
      'stack-advanced',
    ]);
  });

  it("gives each strategy's speed-up alone and its log share of the stack", () => {
    const stack = composeRecipes('intermediate', [
      findRecipe('threads-physical'),
      findRecipe('dpm-fast'),
    ]);
    const c = contributions(
      stack,
      2.4,
      new Map([
        ['threads-physical', 1.2],
        ['dpm-fast', 2],
      ]),
    );
    expect(c[0]).toMatchObject({ recipe: 'threads-physical', speedupAlone: 1.2 });
    expect(c[0].share).toBeCloseTo(Math.log(1.2) / Math.log(2.4), 6);
    expect((c[0].share ?? 0) + (c[1].share ?? 0)).toBeCloseTo(1, 6);
  });
});
