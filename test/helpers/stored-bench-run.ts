import type { Db } from '../../src/main/store/database';
import { BenchRepo } from '../../src/main/store/bench-repo';
import { RunsRepo } from '../../src/main/store/runs-repo';
import type { Recipe } from '../../src/main/bench/recipes';
import type { RecipeAdherence } from '../../src/shared/bench-schemas';

export interface StoredRecipe {
  recipe: Recipe;
  ssim: number | null;
  psnr: number | null;
  verdict: string;
  adherence: RecipeAdherence | null;
}

/**
 * A finished benchmark run written straight into the store, as the runner leaves it: one case per
 * recipe, the first recipe the baseline (speed-up 1), every other one 5x [4.5-5.5] faster.
 */
export function storedBenchRun(db: Db, rows: StoredRecipe[], model = 'tiny-shapes'): number {
  const runs = new RunsRepo(db);
  const bench = new BenchRepo(db);
  const runId = runs.start({
    kind: 'bench',
    model,
    summary: `${rows.length} recipes x 1 case (seeded)`,
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
