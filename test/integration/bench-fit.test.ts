import { describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import { runBenchmark } from '../../src/main/bench/runner';
import { findRecipe } from '../../src/main/bench/recipes';
import { SHAPES_SET } from '../../src/main/bench/test-sets';
import { BenchRepo } from '../../src/main/store/bench-repo';
import { RunsRepo } from '../../src/main/store/runs-repo';
import type { HardwareInfo } from '../../src/shared/schemas';
import { useTempStudio } from '../helpers/temp-studio';

/** A model that cannot fit is a measured answer (`does-not-fit`, with the reason), not a crash. */
const ctx = useTempStudio();
const model = resolve('test/fixtures/models/sd15-optimum-float');

describe('memory fit', () => {
  it('gives does-not-fit before running when the weights cannot fit in free memory', async () => {
    const hardware = await ctx.studio.handlers.getHardware({ refresh: false });
    const tiny: HardwareInfo = { ...hardware, memory: { ...hardware.memory, availableMb: 0.01 } };
    const runs = new RunsRepo(ctx.studio.db);
    const runId = runs.start({
      kind: 'bench',
      model: 'fixture',
      summary: 'fit',
      params: {},
      appVersion: 'test',
      ortVersion: 'test',
    });
    const repo = new BenchRepo(ctx.studio.db);
    const result = await runBenchmark(
      {
        runId,
        home: ctx.home,
        jobId: 'fit',
        model: { name: 'fixture', dir: model, sizeBytes: 1, family: 'sd1' },
        recipes: [findRecipe('baseline'), findRecipe('dpm-fast')],
        testSet: { ...SHAPES_SET, cases: SHAPES_SET.cases.slice(0, 1) },
        settings: 'model',
        defaultSteps: 25,
        repeats: 1,
        warmup: 0,
        ep: 'cpu',
        hardware: tiny,
        imagesDir: join(ctx.home, 'images', 'fit'),
        profileOps: false,
        batch: 1,
        priority: 'balance',
        stack: true,
        interleave: true,
        skipped: [],
      },
      repo,
      { onProgress: () => {}, isCancelled: () => false },
    );
    for (const r of result.recipes) {
      expect(r).toMatchObject({ status: 'failed', verdict: 'does-not-fit' });
      expect(r.error).toMatch(/needs about \d+ MB .* but this machine has 0 MB free/);
    }
    expect(result.recommended).toBeNull();
    expect(repo.recipes(runId).map((r) => r.verdict)).toEqual(['does-not-fit', 'does-not-fit']);
  });
});
