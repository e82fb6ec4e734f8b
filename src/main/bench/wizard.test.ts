import { describe, expect, it } from 'vitest';
import { pickWinner, proposeCandidates, type MeasuredRecipe } from './wizard';

const q = {
  hardwareClass: 'cpu-only',
  priority: 'balance',
  objective: 'latency',
  family: 'sd1',
  variants: [],
} as const;

describe('proposeCandidates', () => {
  it('always starts with the baseline and proposes 3 to 6 recipes', () => {
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
        expect(p.recipes.length).toBeLessThanOrEqual(6);
        expect(new Set(p.recipes.map((r) => r.name)).size).toBe(p.recipes.length);
      }
  });

  it('skips variants that do not exist, saying why, and uses them when they do', () => {
    const without = proposeCandidates({ ...q, priority: 'speed' });
    expect(without.skipped.find((s) => s.recipe === 'int8')?.reason).toMatch(/no int8 variant/);
    const withInt8 = proposeCandidates({ ...q, priority: 'speed', variants: ['int8'] });
    expect(withInt8.recipes.map((r) => r.name)).toContain('int8');
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

const m = (
  name: string,
  latencyMean: number | null,
  ssim: number | null,
  psnr: number | null,
  peakRssMb = 100,
): MeasuredRecipe => ({
  name,
  status: latencyMean === null ? 'failed' : 'ok',
  latencyMean,
  peakRssMb,
  ssim,
  psnr,
  error: latencyMean === null ? 'boom' : null,
});

describe('pickWinner', () => {
  it('picks the fastest recipe that passes quality, not the fastest overall', () => {
    const r = pickWinner(
      [m('baseline', 1000, null, null), m('fast-bad', 200, 0.7, 18), m('good', 400, 0.9, 30)],
      'baseline',
    );
    expect(r.winner).toBe('good');
    expect(r.explanation).toMatch(
      /good is recommended: 400 ms per image against 1000 ms for the baseline \(2\.50x\)/,
    );
    expect(r.explanation).toMatch(/Rejected for quality: fast-bad/);
  });

  it('requires both SSIM and PSNR above the thresholds', () => {
    const r = pickWinner(
      [m('baseline', 1000, null, null), m('low-psnr', 300, 0.95, 24)],
      'baseline',
    );
    expect(r.winner).toBe('baseline');
  });

  it('breaks near ties by peak memory', () => {
    const r = pickWinner(
      [m('baseline', 1000, null, null), m('a', 500, 0.9, 30, 900), m('b', 510, 0.9, 30, 300)],
      'baseline',
    );
    expect(r.winner).toBe('b');
    expect(r.explanation).toMatch(/tied within 3% with a/);
  });

  it('keeps the baseline when nothing beats it, and recommends nothing without a baseline', () => {
    expect(
      pickWinner([m('baseline', 1000, null, null), m('slow', 1500, 0.99, 40)], 'baseline').winner,
    ).toBe('baseline');
    const noBase = pickWinner([m('baseline', null, null, null), m('x', 100, 0.99, 40)], 'baseline');
    expect(noBase.winner).toBeNull();
    expect(noBase.explanation).toMatch(/baseline \(baseline\) did not complete/);
  });
});
