import { describe, expect, it } from 'vitest';
import { createScheduler } from './index';
import { buildAlphasCumprod } from './schedule-common';
import {
  fakeEps,
  maxAbs,
  maxAbsDiff,
  runTrajectory,
  SD15_CONFIG,
  vFromEps,
} from './scheduler-test-kit';

const alphas = buildAlphasCumprod({ ...SD15_CONFIG, trained_betas: null });

describe('DDPMScheduler', () => {
  it('steps to the next entry of the schedule (linspace: 999 → 666, not 999 − 250)', () => {
    const s = createScheduler('ddpm', { ...SD15_CONFIG, timestep_spacing: 'linspace' }, 4);
    expect(s.timesteps).toEqual([999, 666, 333, 0]);
    // With zero ε and x = √ᾱ_999·1, x₀ = 1 and the posterior mean sits at √ᾱ_666.
    const x = new Float32Array(4).fill(Math.sqrt(alphas[999]));
    const out = s.step(new Float32Array(4), 999, x, (n) => new Float32Array(n));
    expect(out.prevSample[0]).toBeCloseTo(Math.sqrt(alphas[666]), 5);
  });

  it('adds no noise at t = 0', () => {
    const s = createScheduler('ddpm', { ...SD15_CONFIG, timestep_spacing: 'linspace' }, 4);
    const x = new Float32Array(4).fill(0.2);
    expect(s.step(x, 0, x).prevSample.every(Number.isFinite)).toBe(true);
  });

  it('v_prediction with the matching v gives the same trajectory as epsilon', () => {
    const eps = runTrajectory(createScheduler('ddpm', SD15_CONFIG, 10)).latents;
    const v = runTrajectory(
      createScheduler('ddpm', { ...SD15_CONFIG, prediction_type: 'v_prediction' }, 10),
      (input, t) => vFromEps(fakeEps(input, t), input, alphas[t]),
    ).latents;
    expect(maxAbsDiff(v, eps)).toBeLessThan(1e-4 * Math.max(1, maxAbs(eps)));
  });

  it('rejects learned variances', () => {
    expect(() =>
      createScheduler('ddpm', { ...SD15_CONFIG, variance_type: 'learned_range' }, 4),
    ).toThrow(/variance_type learned_range/);
  });
});
