import { describe, expect, it } from 'vitest';
import type { BenchProgress } from '../../../../shared/bench-schemas';
import { cancelProgress, foldProgress, type RecipeProgress } from './RunProgress';
import { paretoFront } from './ResultCharts';

const event = (p: Partial<BenchProgress>): BenchProgress => ({
  jobId: 'j',
  runId: 1,
  recipe: 'baseline',
  recipeIndex: 0,
  recipeCount: 2,
  caseIndex: 0,
  caseCount: 2,
  phase: 'measure',
  ...p,
});

describe('wizard: progress per recipe', () => {
  it('shows a variant build, then measuring, and settles a recipe when the next one starts', () => {
    let rows: RecipeProgress[] = [];
    rows = foldProgress(rows, event({ phase: 'measure' }));
    expect(rows).toMatchObject([{ recipe: 'baseline', state: 'measuring', caseIndex: 0 }]);
    rows = foldProgress(
      rows,
      event({ recipe: 'int8', recipeIndex: 1, phase: 'prepare', fraction: 0.4, message: 'unet' }),
    );
    expect(rows).toMatchObject([
      { recipe: 'baseline', state: 'done' },
      { recipe: 'int8', state: 'building', fraction: 0.4 },
    ]);
    rows = foldProgress(
      rows,
      event({ recipe: 'int8', recipeIndex: 1, caseIndex: 1, phase: 'done' }),
    );
    expect(rows[1]).toMatchObject({ state: 'done', caseIndex: 1 });
    rows = foldProgress(rows, event({ recipe: 'int8', recipeIndex: 1, phase: 'failed' }));
    expect(rows[1].state).toBe('failed');
  });

  it('shows the recipe measured when the run was cancelled as cancelled, not failed', () => {
    let rows: RecipeProgress[] = [];
    rows = foldProgress(rows, event({ phase: 'measure' }));
    rows = foldProgress(rows, event({ phase: 'cancelled' }));
    expect(rows).toMatchObject([{ recipe: 'baseline', state: 'cancelled' }]);
  });

  it('marks what was still under way as cancelled once the run answers so, keeping the rest', () => {
    const rows: RecipeProgress[] = [
      { recipe: 'baseline', state: 'done', caseIndex: 1, caseCount: 2 },
      { recipe: 'int8', state: 'failed', caseIndex: 0, caseCount: 2 },
      { recipe: 'fp16', state: 'building', caseIndex: 0, caseCount: 2 },
    ];
    expect(cancelProgress(rows).map((r) => r.state)).toEqual(['done', 'failed', 'cancelled']);
  });
});

describe('wizard: the Pareto front of speed against quality', () => {
  it('keeps only points no other beats on both axes, by speed-up', () => {
    const points = [
      { name: 'baseline', speedup: 1, ssim: 1 },
      { name: 'a', speedup: 1.5, ssim: 0.95 },
      { name: 'dominated', speedup: 1.4, ssim: 0.9 },
      { name: 'b', speedup: 2, ssim: 0.85 },
      { name: 'slow-worse', speedup: 0.9, ssim: 0.99 },
    ];
    expect(paretoFront(points).map((p) => p.name)).toEqual(['baseline', 'a', 'b']);
  });
});
