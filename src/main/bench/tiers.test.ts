import { describe, expect, it } from 'vitest';
import { DISTILLED_STEPS_RECIPE, LCM_LORA_RECIPE, RecipeSchema, findRecipe } from './recipes';
import { composeRecipes, contributions, joinsStacks, planStacks, stackRole } from './tiers';
import { composeVariant } from './variants';

const p = (name: string, speedup: number) => ({ recipe: findRecipe(name), speedup });

/** Another distilled recipe on the same LoRA (any distillation recipe can be the sampling change). */
const lcm8 = RecipeSchema.parse({
  ...LCM_LORA_RECIPE,
  name: 'lcm-lora-8',
  title: 'Distilled: LCM-LoRA, 8 steps',
  sampling: { scheduler: 'lcm', steps: 8, guidance: 1 },
});

describe('stacked tiers', () => {
  it('composes passing strategies basic -> intermediate -> advanced', () => {
    const { stacks, skipped } = planStacks([
      p('threads-physical', 1.1),
      p('no-spin', 1.06),
      p('dpm-fast', 2.2),
      p('dpm-half', 1.8),
      p('int8', 1.3),
    ]);
    expect(skipped).toEqual([]);
    expect(stacks.map((s) => [s.stack?.tier, s.stack?.of])).toEqual([
      ['basic', ['no-spin', 'threads-physical']],
      ['intermediate', ['no-spin', 'threads-physical', 'dpm-fast']],
      ['advanced', ['no-spin', 'threads-physical', 'dpm-fast', 'int8']],
    ]);
    const advanced = stacks[2];
    expect(advanced).toMatchObject({
      strategy: 'stack',
      variant: 'int8',
      sampling: { scheduler: 'dpm++2m-karras', stepsFactor: 0.4 },
      runConfig: { intraOpThreads: 'physical-cores', allowSpinning: false },
    });
  });

  it('stacks the fastest feature cache and guidance truncation with the scheduler and the variants', () => {
    const { stacks, skipped } = planStacks([
      p('feature-cache-3', 1.7),
      p('feature-cache-5', 2.1),
      p('cfg-truncate', 1.15),
      p('dpm-fast', 2.2),
      p('attention', 1.1),
      p('static-shapes', 1.05),
    ]);
    expect(stackRole(findRecipe('feature-cache-5'))).toBe('caching');
    expect(stackRole(findRecipe('cfg-truncate'))).toBe('caching');
    expect(skipped.map((s) => s.recipe)).toEqual(['feature-cache-3']);
    const advanced = stacks.find((s) => s.stack?.tier === 'advanced');
    expect(advanced?.stack?.of).toEqual([
      'static-shapes',
      'dpm-fast',
      'feature-cache-5',
      'cfg-truncate',
      'attention',
    ]);
    // One variant holds the UNet pair and the fused attention; the sampling keeps all three changes.
    expect(advanced).toMatchObject({
      variant: 'attention+feature-cache',
      runConfig: { staticShapes: true },
      sampling: {
        scheduler: 'dpm++2m-karras',
        stepsFactor: 0.4,
        featureCache: { interval: 5, schedule: 'uniform' },
        guidanceInterval: { start: 0, end: 0.7 },
      },
    });
  });

  it('refuses two feature-cache intervals or two schedulers in one stack', () => {
    expect(() =>
      composeRecipes('advanced', [findRecipe('feature-cache-3'), findRecipe('feature-cache-5')]),
    ).toThrow(/one featureCache/);
    expect(() =>
      composeRecipes('advanced', [findRecipe('dpm-fast'), findRecipe('euler-fast')]),
    ).toThrow(/one sampling change/);
  });

  it('proposes no stack of one strategy, and no tier equal to the one below', () => {
    expect(planStacks([p('dpm-fast', 2)]).stacks).toEqual([]);
    expect(planStacks([p('dpm-fast', 2), p('int8', 1.2)]).stacks.map((s) => s.name)).toEqual([
      'stack-advanced',
    ]);
  });

  it('places a recipe by what it changes: attention and fp16-storage are variants, not settings', () => {
    expect(stackRole(findRecipe('attention'))).toBe('variant');
    expect(stackRole(findRecipe('fp16-storage'))).toBe('variant');
    expect(stackRole(findRecipe('threads-physical'))).toBe('settings');
    expect(stackRole(findRecipe('dpm-fast'))).toBe('sampling');
    expect(stackRole(LCM_LORA_RECIPE)).toBe('distillation');
    expect(stackRole(findRecipe('baseline'))).toBeUndefined();
  });

  it('stacks several passing variants as one combined variant, in a canonical order', () => {
    const { stacks } = planStacks([
      p('int8', 1.3),
      p('attention', 1.1),
      p('threads-physical', 1.1),
    ]);
    expect(stacks.map((s) => s.name)).toEqual(['stack-advanced']);
    expect(stacks[0]).toMatchObject({
      variant: 'attention+int8',
      stack: { tier: 'advanced', of: ['threads-physical', 'int8', 'attention'] },
    });
    // The name does not depend on which passed faster.
    const flipped = planStacks([p('int8', 1.1), p('attention', 1.3), p('threads-physical', 1.1)]);
    expect(flipped.stacks[0].variant).toBe('attention+int8');
  });

  it('refuses variants that cannot compose, keeping the faster, and records why as a skipped stack', () => {
    const { stacks, skipped } = planStacks([
      p('int4', 1.2),
      p('int8', 1.3),
      p('attention', 1.1),
      p('dpm-fast', 2),
    ]);
    expect(stacks.map((s) => [s.name, s.variant])).toEqual([['stack-advanced', 'attention+int8']]);
    expect(stacks[0].stack?.of).not.toContain('int4');
    expect(skipped).toHaveLength(1);
    expect(skipped[0].recipe).toBe('int8+int4');
    // Attention, taken first here, is not named: it composes with both.
    const attentionFirst = planStacks([p('attention', 1.4), p('int4', 1.2), p('int8', 1.3)]);
    expect(attentionFirst.skipped.map((s) => s.recipe)).toEqual(['int8+int4']);
    expect(attentionFirst.stacks[0].variant).toBe('attention+int8');
    expect(skipped[0].reason).toMatch(
      /int8 and int4 cannot be combined: both decide how the text_encoder's weights are stored.*the stacks keep int8, faster alone \(1\.30x against 1\.20x\)/,
    );
  });

  it('adds the distilled form of the advanced tier: the LoRA merged under the variants, its sampling alone', () => {
    const { stacks, skipped } = planStacks([
      p('threads-physical', 1.1),
      p('dpm-fast', 2.2),
      p('int8', 1.3),
      p('attention', 1.1),
      { recipe: LCM_LORA_RECIPE, speedup: 5 },
    ]);
    expect(skipped).toEqual([]);
    expect(stacks.map((s) => s.name)).toEqual([
      'stack-intermediate',
      'stack-advanced',
      'stack-distilled',
    ]);
    const [, advanced, distilled] = stacks;
    expect(advanced.variant).toBe('attention+int8');
    expect(advanced.sampling.scheduler).toBe('dpm++2m-karras');
    expect(distilled).toMatchObject({
      // Judged as its single is: by prompt adherence, not the teacher's pixels.
      strategy: 'distillation',
      variant: 'lcm-lora+attention+int8',
      // One sampling change: the student's scheduler, steps and guidance, not dpm-fast's factor.
      sampling: { scheduler: 'lcm', steps: 4, guidance: 1 },
      runConfig: { intraOpThreads: 'physical-cores' },
      stack: { tier: 'advanced', of: ['threads-physical', 'int8', 'attention', 'lcm-lora'] },
    });
    expect(distilled.sampling.stepsFactor).toBeUndefined();
  });

  it('takes the fastest of two distilled recipes as the sampling change and records the other', () => {
    const { stacks, skipped } = planStacks([
      p('attention', 1.1),
      { recipe: lcm8, speedup: 2.5 },
      { recipe: LCM_LORA_RECIPE, speedup: 4.5 },
    ]);
    expect(stacks.map((s) => [s.name, s.variant, s.sampling.steps])).toEqual([
      ['stack-distilled', 'lcm-lora+attention', 4],
    ]);
    expect(skipped).toEqual([
      {
        recipe: 'lcm-lora+lcm-lora-8',
        reason: expect.stringMatching(
          /one sampling change.*lcm-lora is faster alone \(4\.50x against 2\.50x\)/,
        ),
      },
    ]);
    // A student alone is no stack.
    expect(planStacks([{ recipe: LCM_LORA_RECIPE, speedup: 4 }]).stacks).toEqual([]);
  });

  it('prefers the student that keeps the pictures, even when the other is faster', () => {
    const { stacks, skipped } = planStacks([
      p('attention', 1.1),
      { recipe: LCM_LORA_RECIPE, speedup: 5, keepsPixels: false },
      { recipe: DISTILLED_STEPS_RECIPE, speedup: 3.5, keepsPixels: true },
    ]);
    expect(stacks.map((s) => [s.name, s.variant, s.sampling])).toEqual([
      [
        'stack-distilled',
        'distilled-steps+attention',
        { scheduler: 'ddim', steps: 8, guidance: 1 },
      ],
    ]);
    expect(skipped).toEqual([
      {
        recipe: 'distilled-steps+lcm-lora',
        reason: expect.stringMatching(
          /one sampling change.*distilled-steps keeps the baseline pictures \(3\.50x against 5\.00x\)/,
        ),
      },
    ]);
  });

  it('never composes two sampling changes', () => {
    expect(() => composeRecipes('advanced', [findRecipe('dpm-fast'), LCM_LORA_RECIPE])).toThrow(
      /one sampling change, not dpm-fast and lcm-lora/,
    );
  });

  it('combined variant names are order-independent and refuse what cannot be one model', () => {
    expect(composeVariant(['int8', 'source', 'attention'])).toBe('attention+int8');
    expect(composeVariant(['attention', 'lcm-lora', 'int8'])).toBe('lcm-lora+attention+int8');
    expect(composeVariant(['int8+attention', 'lcm-lora'])).toBe('lcm-lora+attention+int8');
    expect(composeVariant(['source', 'source'])).toBe('source');
    expect(() => composeVariant(['int4', 'int8'])).toThrow(/int4 and int8 cannot be combined/);
    expect(() => composeVariant(['graph-all', 'int8'])).toThrow(/graph-all cannot be combined/);
    // Only the registered LoRA variants are LoRAs (not whatever an object inherits).
    expect(() => composeVariant(['constructor', 'int8'])).toThrow(
      /unknown optimize recipe "constructor"/,
    );
  });

  it('joins the singles the judge passed (faster, a likely gain, a distilled student with different pixels)', () => {
    expect(joinsStacks(findRecipe('int8'), { verdict: 'faster' })).toBe(true);
    expect(joinsStacks(findRecipe('int8'), { verdict: 'no-gain', speedup: 1.01 })).toBe(false);
    // A likely gain the interval could not prove joins; the stack is then judged on its own.
    expect(joinsStacks(findRecipe('attention'), { verdict: 'no-gain', speedup: 1.05 })).toBe(true);
    expect(joinsStacks(findRecipe('attention'), { verdict: 'degraded', speedup: 1.5 })).toBe(false);
    expect(joinsStacks(findRecipe('int8'), { verdict: 'different-pixels' })).toBe(false);
    expect(joinsStacks(LCM_LORA_RECIPE, { verdict: 'different-pixels' })).toBe(true);
    expect(joinsStacks(LCM_LORA_RECIPE, { verdict: 'over-optimized' })).toBe(false);
    expect(joinsStacks(findRecipe('graph-basic'), { verdict: 'faster' })).toBe(false);
    expect(joinsStacks(findRecipe('baseline'), { verdict: 'faster' })).toBe(false);
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

  it('reports contributions for a distilled stack of combined variants, part by part', () => {
    const { stacks } = planStacks([
      p('int8', 1.2),
      p('attention', 1.1),
      { recipe: LCM_LORA_RECIPE, speedup: 5 },
    ]);
    const alone = new Map([
      ['int8', 1.2],
      ['attention', 1.1],
      ['lcm-lora', 5],
    ]);
    const distilled = stacks.find((s) => s.name === 'stack-distilled');
    expect(distilled?.variant).toBe('lcm-lora+attention+int8');
    const c = contributions(distilled ?? stacks[0], 6, alone);
    expect(c.map((x) => [x.recipe, x.speedupAlone])).toEqual([
      ['int8', 1.2],
      ['attention', 1.1],
      ['lcm-lora', 5],
    ]);
    expect(c[2].share).toBeCloseTo(Math.log(5) / Math.log(6), 6);
  });
});
