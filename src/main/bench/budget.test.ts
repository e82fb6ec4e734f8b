import { describe, expect, it } from 'vitest';
import {
  SHALLOW_SHARE,
  SINGLE_ROW_SHARE,
  calibrationFrom,
  imageCostMs,
  planToBudget,
  trimmedText,
  type Calibration,
} from './budget';
import { findRecipe } from './recipes';
import { proposeCandidates } from './wizard';

/** A full-size SD 1.5 at 512x512 on 2 cores, as measured here (docs/benchmarks.md). */
const sd15: Calibration = {
  loadMs: 19_000,
  textEncoderMs: 200,
  unetStepMs: 9_000,
  firstStepMs: 15_000,
  vaeMs: 15_000,
  otherMs: 50,
  wallMs: 80_000,
  steps: 25,
  guidance: 7.5,
};
const tiny: Calibration = {
  ...sd15,
  loadMs: 200,
  textEncoderMs: 3,
  unetStepMs: 4,
  firstStepMs: 6,
  vaeMs: 7,
  otherMs: 2,
  wallMs: 900,
};

const wizard = proposeCandidates({
  hardwareClass: 'cpu-only',
  priority: 'balance',
  objective: 'latency',
  family: 'sd1',
  variants: [],
  canBuildVariant: () => true,
}).recipes;

const input = (cal: Calibration, budgetMinutes: number) => ({
  cal,
  recipes: wizard,
  cases: 5,
  repeats: 3,
  warmup: 1,
  interleave: true,
  stack: true,
  budgetSeconds: budgetMinutes * 60,
  needsBuild: (r: { variant: string }) => r.variant !== 'source',
  modelBytes: 5.2e9,
});

describe('imageCostMs', () => {
  it('composes an image from its stages and the schedule the recipe runs', () => {
    const base = imageCostMs(sd15, findRecipe('baseline'));
    expect(base).toBeCloseTo(200 + 25 * 9_000 + 15_000 + 50);
    // feature-cache-5: 5 full calls, 20 shallow ones.
    const fc5 = imageCostMs(sd15, findRecipe('feature-cache-5'));
    expect(fc5).toBeCloseTo(200 + (5 + 20 * SHALLOW_SHARE) * 9_000 + 15_000 + 50);
    // cfg-truncate: steps 18-24 (7 of 25) run one row.
    const truncated = imageCostMs(sd15, findRecipe('cfg-truncate'));
    expect(truncated).toBeCloseTo(200 + (18 + 7 * SINGLE_ROW_SHARE) * 9_000 + 15_000 + 50);
    // 40% of the steps.
    const dpm = imageCostMs(sd15, findRecipe('dpm-fast'));
    expect(dpm).toBeCloseTo(200 + 10 * 9_000 + 15_000 + 50);
  });

  it('reads the steady UNet step from the calibration run, not its first', () => {
    const cal = calibrationFrom(
      {
        timings: {
          tokenize: 1,
          textEncoder: 200,
          unet: 33_000,
          unetPerStep: [15_000, 9_100, 8_900],
          vae: 15_000,
          total: 48_300,
          encode: 5,
          ort: 48_000,
          load: 19_000,
        },
      },
      70_000,
      { steps: 25, guidance: 7.5 },
    );
    expect(cal).toMatchObject({
      unetStepMs: 8_900,
      firstStepMs: 15_000,
      loadMs: 19_000,
      steps: 25,
    });
  });
});

describe('planToBudget', () => {
  it('predicts a full SD 1.5 wizard run at many hours, as a person would meet it', () => {
    const plan = planToBudget(input(sd15, 24 * 60));
    expect(plan.untrimmedSeconds / 3600).toBeGreaterThan(9);
  });

  it('trims repeats, then cases, then the last candidates, until the plan fits', () => {
    const plan = planToBudget(input(sd15, 60));
    expect(plan.repeats).toBe(1);
    expect(plan.cases).toBe(1);
    expect(plan.candidates[0]).toBe('baseline');
    expect(plan.candidates.length).toBeLessThan(wizard.length);
    expect(plan.dropped.length).toBe(wizard.length - plan.candidates.length);
    expect(plan.dropped[0].reason).toMatch(/time budget of 60 min/);
    // What stays is the head of the wizard's list, in order.
    expect(plan.candidates).toEqual(wizard.slice(0, plan.candidates.length).map((r) => r.name));
    expect(plan.predictedSeconds).toBeLessThanOrEqual(60 * 60);
    const sum = plan.phases.reduce((a, p) => a + p.predictedSeconds, 0);
    expect(sum).toBeCloseTo(plan.predictedSeconds);
  });

  it('leaves a plan that fits alone, and keeps baseline and one candidate when nothing fits', () => {
    const fits = planToBudget(input(tiny, 15));
    expect(fits.dropped).toEqual([]);
    expect(fits).toMatchObject({ repeats: 3, cases: 5, warmup: 1 });
    const tight = planToBudget(input(sd15, 1));
    expect(tight.candidates).toEqual(wizard.slice(0, 2).map((r) => r.name));
    expect(tight.predictedSeconds).toBeGreaterThan(60);
  });

  it('charges a variant build once per variant, only where it is not built', () => {
    const built = planToBudget({ ...input(tiny, 15), needsBuild: () => false });
    expect(built.phases.find((p) => p.name === 'build')?.predictedSeconds).toBe(0);
    const fresh = planToBudget(input(tiny, 15));
    // feature-cache-3 and -5 share one variant.
    const variants = new Set(wizard.filter((r) => r.variant !== 'source').map((r) => r.variant));
    const perBuild = 5.2e9 / 60_000 / 1000 + (2 * tiny.loadMs) / 1000;
    expect(fresh.phases.find((p) => p.name === 'build')?.predictedSeconds).toBeCloseTo(
      variants.size * perBuild,
    );
  });
});

describe('what the budget changed, said in the explanation', () => {
  it('names each change and nothing when the plan was not trimmed', () => {
    const asked = { repeats: 3, warmup: 1, budgetMinutes: 15 };
    expect(trimmedText(asked, 5, { repeats: 3, warmup: 1, cases: 5, dropped: [] })).toBe('');
    expect(trimmedText(asked, 5, { repeats: 1, warmup: 0, cases: 2, dropped: [{}, {}] })).toBe(
      'To fit the 15-minute budget the plan ran 1 repeats instead of 3, 2 of the 5 prompts, no warm-up run, 2 candidates left out (see skipped); give the benchmark more time for tighter figures.',
    );
  });
});
