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

const SIGMA_MAX = 14.614645;

describe('EulerDiscreteScheduler', () => {
  it('linspace (its default) gives fractional float32 timesteps and init σ = σ_max', () => {
    const s = createScheduler('euler', SD15_CONFIG, 50);
    expect(s.timestepDtype).toBe('float32');
    expect(s.timesteps[1]).toBe(Math.fround(999 - 999 / 49));
    expect(s.initNoiseSigma).toBeCloseTo(SIGMA_MAX, 5);
  });

  it('leading spacing: timesteps 981 … 1 and init σ = √(σ_max² + 1)', () => {
    const s = createScheduler('euler', { ...SD15_CONFIG, timestep_spacing: 'leading' }, 50);
    expect(s.timesteps.slice(0, 2)).toEqual([981, 961]);
    expect(s.timesteps.at(-1)).toBe(1);
    const sigma0 = s.sigmas?.[0] ?? NaN;
    expect(s.initNoiseSigma).toBeCloseTo(Math.sqrt(sigma0 * sigma0 + 1), 5);
  });

  it('trailing spacing (SD-Turbo style)', () => {
    const s = createScheduler('euler', { ...SD15_CONFIG, timestep_spacing: 'trailing' }, 4);
    expect(s.timesteps).toEqual([999, 749, 499, 249]);
  });

  it('Karras sigmas: ρ=7 ramp, fractional timesteps, final σ 0', () => {
    const s = createScheduler('euler', { ...SD15_CONFIG, use_karras_sigmas: true }, 8);
    const sigmas = s.sigmas ?? [];
    expect(sigmas[0]).toBeCloseTo(SIGMA_MAX, 4);
    expect(sigmas[8]).toBe(0);
    expect(s.timesteps[0]).toBeCloseTo(999, 3);
    expect(s.timesteps.some((t) => !Number.isInteger(t))).toBe(true);
  });

  it('final_sigmas_type sigma_min ends at σ(0) instead of 0', () => {
    const s = createScheduler('euler', { ...SD15_CONFIG, final_sigmas_type: 'sigma_min' }, 4);
    expect(s.sigmas?.at(-1)).toBeCloseTo(0.0291675, 6);
  });

  it('v_prediction with the matching v gives the same trajectory as epsilon', () => {
    const eps = runTrajectory(createScheduler('euler', SD15_CONFIG, 20)).latents;
    const vSched = createScheduler(
      'euler',
      { ...SD15_CONFIG, prediction_type: 'v_prediction' },
      20,
    );
    const v = runTrajectory(vSched, (input, t, _x, j) => {
      const sigma = vSched.sigmas?.[j] ?? NaN;
      return vFromEps(fakeEps(input, t), input, 1 / (sigma * sigma + 1));
    }).latents;
    expect(maxAbsDiff(v, eps)).toBeLessThan(1e-4 * Math.max(1, maxAbs(eps)));
  });

  it('needs the timestep values it published', () => {
    const s = createScheduler('euler', SD15_CONFIG, 50);
    expect(() => s.scaleModelInput(new Float32Array(4), 978)).toThrow(
      /not one of this scheduler's timesteps/,
    );
  });
});
