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

describe('PNDMScheduler', () => {
  it('PLMS repeats the second timestep (N + 1 calls)', () => {
    const s = createScheduler('pndm', SD15_CONFIG, 4);
    expect(s.timesteps).toEqual([751, 501, 501, 251, 1]);
    expect(
      createScheduler('pndm', { ...SD15_CONFIG, timestep_spacing: 'trailing' }, 4).timesteps,
    ).toEqual([999, 749, 749, 499, 249]);
    expect(
      createScheduler('pndm', { ...SD15_CONFIG, timestep_spacing: 'linspace' }, 4).timesteps,
    ).toEqual([999, 666, 666, 333, 0]);
  });

  it('without skip_prk_steps, 12 Runge-Kutta calls come first', () => {
    const s = createScheduler('pndm', { ...SD15_CONFIG, skip_prk_steps: false }, 50);
    expect(s.timesteps.slice(0, 6)).toEqual([981, 971, 971, 961, 961, 951]);
    expect(s.timesteps.slice(10, 14)).toEqual([931, 921, 921, 901]);
    expect(s.timesteps).toHaveLength(12 + 47);
  });

  it('PRK, PLMS and DDIM agree on the fake model at 50 steps (same ODE)', () => {
    const ddim = runTrajectory(createScheduler('ddim', SD15_CONFIG, 50)).latents;
    const plms = runTrajectory(createScheduler('pndm', SD15_CONFIG, 50)).latents;
    const prk = runTrajectory(
      createScheduler('pndm', { ...SD15_CONFIG, skip_prk_steps: false }, 50),
    ).latents;
    const scale = maxAbs(ddim);
    expect(maxAbsDiff(plms, ddim)).toBeLessThan(0.02 * scale);
    expect(maxAbsDiff(prk, ddim)).toBeLessThan(0.02 * scale);
  });

  it('v_prediction: the first step matches epsilon (later ones combine raw v, as diffusers does)', () => {
    const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(0.1 * i));
    const t = 751;
    const e = fakeEps(x, t);
    const a = createScheduler('pndm', SD15_CONFIG, 4).step(e, t, x).prevSample;
    const vSched = createScheduler('pndm', { ...SD15_CONFIG, prediction_type: 'v_prediction' }, 4);
    const b = vSched.step(vFromEps(e, x, alphas[t]), t, x).prevSample;
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
  });
});
