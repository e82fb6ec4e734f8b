import { describe, expect, it } from 'vitest';
import { findRecipe, LCM_LORA_RECIPE } from '../bench/recipes';
import { useTempStudio } from '../../../test/helpers/temp-studio';
import { storedBenchRun, type StoredRecipe } from '../../../test/helpers/stored-bench-run';
import { dispatch } from './dispatch';

/**
 * Saving a profile: a recipe whose images failed the quality check is applied only knowingly
 * (`acknowledgeQuality`), and the adherence stored beside each recipe comes back in getRun and
 * compareRuns. The run is written straight into the store, as the runner would leave it.
 */
const ctx = useTempStudio();

const all16 = { allCorrect: 1, checksPassed: 1, cases: 16 };
const storedRun = (rows: StoredRecipe[]) => storedBenchRun(ctx.studio.db, rows);
const run = () =>
  storedRun([
    {
      recipe: findRecipe('baseline'),
      ssim: null,
      psnr: null,
      verdict: 'baseline',
      adherence: all16,
    },
    {
      recipe: LCM_LORA_RECIPE,
      ssim: 0.612,
      psnr: 17.3,
      verdict: 'different-pixels',
      adherence: { allCorrect: 15 / 16, checksPassed: 47 / 48, cases: 16 },
    },
    // Above SSIM 0.8, below the 25 dB bar: degraded, not over-optimized.
    { recipe: findRecipe('dpm-fast'), ssim: 0.83, psnr: 24, verdict: 'degraded', adherence: all16 },
    { recipe: findRecipe('graph-basic'), ssim: 0.99, psnr: 40, verdict: 'faster', adherence: null },
  ]);

const save = (input: Record<string, unknown>) =>
  dispatch(ctx.studio.handlers, 'saveProfile', { makeDefault: false, ...input });

describe('saveProfile: failed quality is applied only knowingly', () => {
  it('refuses a recipe below the quality thresholds, naming the field, the numbers and the fix', async () => {
    const runId = run();
    const refused = save({ runId, recipe: 'lcm-lora' });
    await expect(refused).rejects.toThrow(
      /^acknowledgeQuality: "lcm-lora" did not pass the quality check in run \d+ \(over-optimized: SSIM 0\.612, PSNR 17\.3 dB/,
    );
    await expect(refused).rejects.toThrow(/every prompt check right in 15\/16 cases/);
    await expect(refused).rejects.toThrow(
      /pass acknowledgeQuality: true \(CLI: --acknowledge-quality\)$/,
    );
    await expect(save({ runId, recipe: 'dpm-fast' })).rejects.toThrow(
      /^acknowledgeQuality: "dpm-fast" .*\(degraded: SSIM 0\.830, PSNR 24\.0 dB/,
    );
    await expect(save({ runId, recipe: 'lcm-lora', acknowledgeQuality: false })).rejects.toThrow(
      /^acknowledgeQuality: /,
    );
  });

  it('saves it when acknowledged, and saves passing recipes and the baseline without asking', async () => {
    const runId = run();
    expect(
      await save({ runId, recipe: 'lcm-lora', acknowledgeQuality: true, makeDefault: true }),
    ).toEqual({
      name: 'tiny-shapes-lcm-lora',
      model: 'tiny-shapes',
      recipe: 'lcm-lora',
      isDefault: true,
    });
    expect((await save({ runId, recipe: 'graph-basic' })).recipe).toBe('graph-basic');
    expect((await save({ runId, recipe: 'baseline' })).recipe).toBe('baseline');
    await expect(save({ runId, recipe: 'lcm-lora', acknowledgeQuality: 'yes' })).rejects.toThrow(
      /acknowledgeQuality/,
    );
  });

  it('returns each recipe’s adherence from the store in getRun and compareRuns', async () => {
    const a = run();
    const detail = await dispatch(ctx.studio.handlers, 'getRun', { runId: a });
    const byName = new Map(detail.recipes.map((r) => [r.name, r]));
    expect(byName.get('baseline')?.adherence).toEqual(all16);
    expect(byName.get('lcm-lora')?.adherence).toEqual({
      allCorrect: 15 / 16,
      checksPassed: 47 / 48,
      cases: 16,
    });
    expect(byName.get('lcm-lora')?.verdict).toBe('different-pixels');
    expect(byName.get('graph-basic')?.adherence).toBeNull();
    const c = await dispatch(ctx.studio.handlers, 'compareRuns', { runA: a, runB: run() });
    expect(c.recipes.find((r) => r.name === 'lcm-lora')).toMatchObject({
      adherenceA: 15 / 16,
      adherenceB: 15 / 16,
    });
    expect(c.recipes.find((r) => r.name === 'graph-basic')?.adherenceA).toBeNull();
  });
});

describe('cancel answers for a job that runs', () => {
  it('answers false for a benchmark or generation id that runs nothing, remembering nothing', async () => {
    const cancel = (method: 'cancelBenchmark' | 'cancelGenerate', jobId: string) =>
      dispatch(ctx.studio.handlers, method, { jobId });
    expect(await cancel('cancelBenchmark', 'no-such-job')).toEqual({ cancelled: false });
    expect(await cancel('cancelGenerate', 'no-such-job')).toEqual({ cancelled: false });
  });
});
