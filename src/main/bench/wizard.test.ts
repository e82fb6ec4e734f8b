import { describe, expect, it } from 'vitest';
import { MAX_PROPOSED, proposeCandidates } from './wizard';

const q = {
  hardwareClass: 'cpu-only',
  priority: 'balance',
  objective: 'latency',
  family: 'sd1',
  variants: [] as readonly string[],
  canBuildVariant: (_variant: string) => false,
} as const;

describe('proposeCandidates', () => {
  it('always starts with the baseline and proposes 3 to MAX_PROPOSED recipes', () => {
    for (const priority of ['quality', 'balance', 'speed'] as const)
      for (const hardwareClass of [
        'cpu-only',
        'gpu-consumer',
        'gpu-pro',
        'apple-silicon',
      ] as const) {
        const p = proposeCandidates({ ...q, priority, hardwareClass });
        expect(p.recipes[0].name).toBe('baseline');
        expect(p.recipes.length).toBeGreaterThanOrEqual(3);
        expect(p.recipes.length).toBeLessThanOrEqual(MAX_PROPOSED);
        expect(new Set(p.recipes.map((r) => r.name)).size).toBe(p.recipes.length);
      }
  });

  it('skips variants that neither exist nor can be built, saying why; uses them otherwise', () => {
    const without = proposeCandidates({ ...q, priority: 'speed' });
    expect(without.skipped.find((s) => s.recipe === 'int8')?.reason).toMatch(/no int8 variant/);
    const withInt8 = proposeCandidates({ ...q, priority: 'speed', variants: ['int8'] });
    expect(withInt8.recipes.map((r) => r.name)).toContain('int8');
    // A missing folder is no reason to skip when the optimizer can build the variant on demand.
    const buildable = proposeCandidates({
      ...q,
      priority: 'speed',
      canBuildVariant: (v) => v === 'int8',
    });
    expect(buildable.recipes.map((r) => r.name)).toContain('int8');
  });

  it('records what the recipe cap left out, and never proposes graph-basic as a reference', () => {
    // Every variant buildable: the training-free recipes and both students fill the cap.
    const p = proposeCandidates({ ...q, priority: 'speed', canBuildVariant: () => true });
    expect(p.skipped.map((s) => s.reason).join(' ')).toMatch(
      new RegExp(`at most ${MAX_PROPOSED} recipes, the baseline included`),
    );
    // What the cap left out can still be ticked in: it is offered beside the plan.
    const capped = p.skipped.filter((s) => /at most/.test(s.reason)).map((s) => s.recipe);
    expect(p.more.map((r) => r.name)).toEqual(capped);
    expect(p.more.some((r) => p.recipes.includes(r))).toBe(false);
    for (const priority of ['quality', 'balance', 'speed'] as const)
      expect(proposeCandidates({ ...q, priority }).recipes[0].name).toBe('baseline');
  });

  it('proposes feature caching and guidance truncation on every machine, not for few-step families', () => {
    for (const hardwareClass of ['cpu-only', 'gpu-consumer', 'apple-silicon'] as const) {
      const names = proposeCandidates({
        ...q,
        hardwareClass,
        variants: ['fp16'],
        canBuildVariant: (v) => v === 'feature-cache',
      }).recipes.map((r) => r.name);
      expect(names).toEqual(
        expect.arrayContaining(['feature-cache-3', 'feature-cache-5', 'cfg-truncate']),
      );
    }
    const quality = proposeCandidates({ ...q, priority: 'quality', canBuildVariant: () => true });
    expect(quality.recipes.map((r) => r.name)).toContain('feature-cache-2');
    for (const family of ['lcm', 'sd-turbo'] as const) {
      const names = proposeCandidates({ ...q, family, canBuildVariant: () => true }).recipes.map(
        (r) => r.name,
      );
      expect(names.some((n) => n.startsWith('feature-cache') || n === 'cfg-truncate')).toBe(false);
    }
    // Without the optimizer the pair cannot exist: skipped with the reason.
    expect(proposeCandidates(q).skipped.map((s) => s.recipe)).toContain('feature-cache-3');
  });

  it('proposes a tiny VAE decoder only where one can be built for the model', () => {
    const withDecoder = proposeCandidates({
      ...q,
      priority: 'quality',
      canBuildVariant: (v) => v === 'tiny-vae',
    });
    expect(withDecoder.recipes.map((r) => r.name)).toContain('tiny-vae');
    const without = proposeCandidates({ ...q, priority: 'quality' });
    expect(without.recipes.map((r) => r.name)).not.toContain('tiny-vae');
    expect(without.skipped.find((s) => s.recipe === 'tiny-vae')?.reason).toMatch(
      /no tiny VAE decoder for this model's latent family .*vae_decoder/,
    );
  });

  it('proposes sleeping idle threads (no-spin) on CPU-only machines, not on GPU machines', () => {
    expect(proposeCandidates(q).recipes.map((r) => r.name)).toContain('no-spin');
    const gpu = { ...q, hardwareClass: 'gpu-consumer' as const, variants: ['fp16'] };
    expect(proposeCandidates(gpu).recipes.map((r) => r.name)).not.toContain('no-spin');
  });

  it('proposes fp16 only where a GPU provider works', () => {
    const gpu = { ...q, hardwareClass: 'gpu-consumer' as const, variants: ['fp16'] };
    expect(proposeCandidates(gpu).recipes.map((r) => r.name)).toContain('fp16');
    expect(
      proposeCandidates({ ...gpu, gpuProviderWorks: false }).recipes.map((r) => r.name),
    ).not.toContain('fp16');
  });

  it('proposes fp16 on GPUs, and no few-step schedulers for already distilled families', () => {
    expect(
      proposeCandidates({ ...q, hardwareClass: 'gpu-consumer', variants: ['fp16'] }).recipes.map(
        (r) => r.name,
      ),
    ).toContain('fp16');
    const turbo = proposeCandidates({ ...q, family: 'sd-turbo', priority: 'speed' }).recipes.map(
      (r) => r.name,
    );
    expect(turbo.some((n) => n.startsWith('dpm-') || n === 'euler-fast')).toBe(false);
  });

  it('adds memory recipes for throughput and SDXL', () => {
    expect(
      proposeCandidates({ ...q, objective: 'throughput' }).recipes.map((r) => r.name),
    ).toContain('vae-tiled');
    expect(proposeCandidates({ ...q, family: 'sdxl' }).recipes.map((r) => r.name)).toContain(
      'sequential',
    );
  });
});
