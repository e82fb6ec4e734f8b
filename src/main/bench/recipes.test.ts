import { describe, expect, it } from 'vitest';
import { DEFAULT_RUN_CONFIG } from '../engine/run-config';
import { BUILTIN_RECIPES, findRecipe } from './recipes';

describe('the honest baseline', () => {
  it('is what generate runs by default: no session setting, no sampling change, the source model', () => {
    const baseline = findRecipe('baseline');
    expect(baseline.runConfig).toEqual({});
    expect(baseline.sampling).toEqual({});
    expect(baseline.variant).toBe('source');
    // generate's defaults, which the baseline inherits: ORT's full graph optimization.
    expect(DEFAULT_RUN_CONFIG.graphOptimizationLevel).toBe('all');
  });

  it('every single strategy changes exactly one thing against it', () => {
    for (const r of BUILTIN_RECIPES.filter(
      (x) =>
        x.name !== 'baseline' &&
        !x.stack &&
        x.strategy !== 'distillation' &&
        x.name.startsWith('feature-cache-') === false,
    )) {
      const changes = [
        r.variant !== 'source' ? 'variant' : null,
        Object.keys(r.sampling).length > 0 ? 'sampling' : null,
        Object.keys(r.runConfig).length > 0 ? 'session' : null,
      ].filter(Boolean);
      expect(changes, r.name).toHaveLength(1);
      // Session recipes change one knob (VAE tiling with slicing counts as one decode strategy).
      const knobs = Object.keys(r.runConfig).filter((k) => k !== 'vaeSlicing');
      expect(knobs.length, r.name).toBeLessThanOrEqual(1);
      expect(r.runConfig.graphOptimizationLevel ?? 'basic', r.name).not.toBe('all');
    }
  });

  it('feature caching changes the UNet pair and its interval together, nothing else', () => {
    const fc = BUILTIN_RECIPES.filter((x) => x.name.startsWith('feature-cache-'));
    expect(fc.map((r) => r.name)).toEqual([
      'feature-cache-2',
      'feature-cache-3',
      'feature-cache-5',
    ]);
    for (const r of fc) {
      expect(r).toMatchObject({ variant: 'feature-cache', runConfig: {}, strategy: 'caching' });
      expect(Object.keys(r.sampling)).toEqual(['featureCache']);
      expect(r.sampling.featureCache?.interval).toBe(Number(r.name.split('-').pop()));
    }
    const truncate = BUILTIN_RECIPES.find((x) => x.name === 'cfg-truncate');
    expect(truncate?.sampling).toEqual({ guidanceInterval: { start: 0, end: 0.7 } });
  });

  it('distillation changes the model and the sampling it needs together, nothing else', () => {
    const d = BUILTIN_RECIPES.filter((x) => x.strategy === 'distillation');
    expect(d.map((r) => r.name)).toEqual(['lcm-lora', 'distilled-steps']);
    expect(d[0]).toMatchObject({ variant: 'lcm-lora', runConfig: {} });
    expect(d[0].sampling).toEqual({ scheduler: 'lcm', steps: 4, guidance: 1 });
    // The step-distilled student keeps the model's own scheduler: only steps and guidance change.
    expect(d[1]).toMatchObject({ variant: 'distilled-steps', runConfig: {} });
    expect(d[1].sampling).toEqual({ scheduler: 'ddim', steps: 8, guidance: 1 });
  });

  it('keeps graph-basic only as an explanatory extra', () => {
    expect(findRecipe('graph-basic')).toMatchObject({
      explanatory: true,
      runConfig: { graphOptimizationLevel: 'basic' },
    });
  });
});
