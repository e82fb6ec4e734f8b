import { describe, expect, it } from 'vitest';
import {
  alphasCumprod,
  cosineBetas,
  makeBetas,
  rescaleZeroTerminalSnr,
  torchLinspaceF32,
} from './betas';

const SD = { num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012 };

describe('beta schedules', () => {
  it('torch linspace hits both ends exactly and is monotone', () => {
    const v = torchLinspaceF32(0.1, 0.9, 37);
    expect(v[0]).toBe(Math.fround(0.1));
    expect(v[36]).toBe(Math.fround(0.9));
    for (let i = 1; i < v.length; i++) expect(v[i]).toBeGreaterThan(v[i - 1]);
  });
  it('scaled_linear is linear in sqrt(beta) (SD 1.x: ᾱ_999 ≈ 0.00466)', () => {
    const betas = makeBetas({ ...SD, beta_schedule: 'scaled_linear' });
    expect(Math.sqrt(betas[0])).toBeCloseTo(Math.sqrt(0.00085), 7);
    expect(betas[999]).toBeCloseTo(0.012, 7);
    expect(alphasCumprod(betas)[999]).toBeCloseTo(0.00466, 5);
  });
  it('linear and trained_betas', () => {
    const linear = makeBetas({ ...SD, beta_schedule: 'linear' });
    expect(linear[500]).toBeCloseTo(0.00085 + (500 / 999) * (0.012 - 0.00085), 7);
    const trained = makeBetas({ ...SD, beta_schedule: 'linear', trained_betas: [0.1, 0.2] });
    expect(Array.from(trained)).toEqual([Math.fround(0.1), Math.fround(0.2)]);
  });
  it('squaredcos_cap_v2 follows the Glide cosine ᾱ(t) and caps at 0.999', () => {
    const betas = cosineBetas(1000);
    const cumprod = alphasCumprod(betas);
    const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * Math.PI * 0.5) ** 2;
    expect(cumprod[499]).toBeCloseTo(alphaBar(0.5) / alphaBar(0), 5);
    expect(betas[999]).toBeCloseTo(0.999, 6);
  });
  it('rejects unknown schedules by name', () => {
    expect(() => makeBetas({ ...SD, beta_schedule: 'sigmoid' })).toThrow(/beta_schedule "sigmoid"/);
  });
  it('zero terminal SNR rescale: ᾱ_T = 0 and ᾱ_0 unchanged', () => {
    const betas = makeBetas({ ...SD, beta_schedule: 'scaled_linear' });
    const rescaled = alphasCumprod(rescaleZeroTerminalSnr(betas));
    expect(rescaled[999]).toBe(0);
    expect(rescaled[0]).toBeCloseTo(alphasCumprod(betas)[0], 6);
  });
});
