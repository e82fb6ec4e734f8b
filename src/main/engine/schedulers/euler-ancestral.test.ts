import { describe, expect, it } from 'vitest';
import { createScheduler } from './index';
import {
  fakeEps,
  maxAbs,
  maxAbsDiff,
  runTrajectory,
  SD15_CONFIG,
  vFromEps,
} from './scheduler-test-kit';

describe('EulerAncestralDiscreteScheduler', () => {
  it('SD-Turbo: trailing spacing, 1 step at t=999 from σ_max to 0 (pure x₀ estimate)', () => {
    const s = createScheduler('euler-a', { ...SD15_CONFIG, timestep_spacing: 'trailing' }, 1);
    expect(s.timesteps).toEqual([999]);
    expect(s.initNoiseSigma).toBeCloseTo(14.614645, 5);
    const x = Float32Array.from({ length: 16 }, (_, i) => i - 8);
    const eps = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i));
    s.scaleModelInput(x, 999);
    const out = s.step(eps, 999, x, () => new Float32Array(16).fill(1e6));
    // σ_next = 0 ⇒ σ_up = σ_down = 0: the result is x − σ·ε whatever the noise.
    const sigma = s.sigmas?.[0] ?? NaN;
    out.prevSample.forEach((v, i) => expect(v).toBeCloseTo(x[i] - sigma * eps[i], 3));
  });

  it('leading spacing: init σ = √(σ_max² + 1)', () => {
    const s = createScheduler('euler-a', { ...SD15_CONFIG, timestep_spacing: 'leading' }, 10);
    expect(s.timesteps[0]).toBe(901);
    const sigma0 = s.sigmas?.[0] ?? NaN;
    expect(s.initNoiseSigma).toBeCloseTo(Math.sqrt(sigma0 * sigma0 + 1), 5);
  });

  it('needs a noise source', () => {
    const s = createScheduler('euler-a', SD15_CONFIG, 4);
    const x = new Float32Array(4);
    expect(() => s.step(x, s.timesteps[0], x)).toThrow(/noise source/);
  });

  it('v_prediction with the matching v gives the same trajectory as epsilon', () => {
    const eps = runTrajectory(createScheduler('euler-a', SD15_CONFIG, 20)).latents;
    const vSched = createScheduler(
      'euler-a',
      { ...SD15_CONFIG, prediction_type: 'v_prediction' },
      20,
    );
    const v = runTrajectory(vSched, (input, t, _x, j) => {
      const sigma = vSched.sigmas?.[j] ?? NaN;
      return vFromEps(fakeEps(input, t), input, 1 / (sigma * sigma + 1));
    }).latents;
    expect(maxAbsDiff(v, eps)).toBeLessThan(1e-4 * Math.max(1, maxAbs(eps)));
  });

  it('rejects prediction_type "sample", as diffusers does', () => {
    expect(() =>
      createScheduler('euler-a', { ...SD15_CONFIG, prediction_type: 'sample' }, 4),
    ).toThrow(/prediction_type sample/);
  });
});
