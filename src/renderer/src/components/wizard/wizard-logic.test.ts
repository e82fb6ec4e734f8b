import { describe, expect, it } from 'vitest';
import type { BenchProgress } from '../../../../shared/bench-schemas';
import { foldProgress, type RecipeProgress } from './RunProgress';
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
