import { describe, expect, it } from 'vitest';
import { findRecipe, LCM_LORA_RECIPE, type Recipe } from '../bench/recipes';
import { BenchRepo } from '../store/bench-repo';
import { RunsRepo } from '../store/runs-repo';
import type { RecipeAdherence } from '../../shared/bench-schemas';
import { useTempStudio } from '../../../test/helpers/temp-studio';
import { dispatch } from './dispatch';

/**
 * Saving a profile: a recipe whose images failed the quality check is applied only knowingly
 * (`acknowledgeQuality`), and the adherence stored beside each recipe comes back in getRun and
 * compareRuns. The run is written straight into the store, as the runner would leave it.
 */
const ctx = useTempStudio();

interface Row {
  recipe: Recipe;
  ssim: number | null;
  psnr: number | null;
  verdict: string;
  adherence: RecipeAdherence | null;
}

function storedRun(rows: Row[]): number {
  const runs = new RunsRepo(ctx.studio.db);
  const bench = new BenchRepo(ctx.studio.db);
  const runId = runs.start({
    kind: 'bench',
    model: 'tiny-shapes',
    summary: 'seeded',
    params: { ep: 'cpu', settings: 'model' },
    appVersion: '0',
    ortVersion: '0',
  });
  for (const [position, row] of rows.entries()) {
    const id = bench.startRecipe(runId, position, row.recipe, row.recipe);
    bench.addCase(id, {
      caseIndex: 0,
      prompt: 'a red circle on a blue background',
      seed: 1,
      steps: 25,
      guidance: 7.5,
      latencies: [100],
      latencyMean: 100,
      latencyStd: 0,
      latencyMedian: 100,
      stages: {},
      imagePath: null,
      heatmapPath: null,
      ssim: row.ssim,
      psnr: row.psnr,
    });
    bench.finishRecipe(id, {
      latencyMean: position === 0 ? 100 : 20,
      latencyStd: 1,
      latencyMedian: 100,
      stages: {},
      peakRssMb: 200,
      peakGpuMb: null,
      cpuPercent: 90,
      ssim: row.ssim,
      psnr: row.psnr,
      speedup: position === 0 ? 1 : 5,
      verdict: row.verdict,
      extra: { speedupCi: position === 0 ? null : [4.5, 5.5], adherence: row.adherence },
    });
  }
  runs.finish(runId, { recommended: null, explanation: 'seeded', skipped: [] }, []);
  return runId;
}

const all16 = { allCorrect: 1, checksPassed: 1, cases: 16 };
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
