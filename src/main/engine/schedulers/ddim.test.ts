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

describe('DDIMScheduler', () => {
  it('trailing and linspace spacings', () => {
    expect(
      createScheduler('ddim', { ...SD15_CONFIG, timestep_spacing: 'trailing' }, 4).timesteps,
    ).toEqual([999, 749, 499, 249]);
    expect(
      createScheduler('ddim', { ...SD15_CONFIG, timestep_spacing: 'linspace' }, 4).timesteps,
    ).toEqual([999, 666, 333, 0]);
  });

  it('v_prediction and sample prediction give the same trajectory as epsilon', () => {
    const eps = runTrajectory(createScheduler('ddim', SD15_CONFIG, 20)).latents;
    const v = runTrajectory(
      createScheduler('ddim', { ...SD15_CONFIG, prediction_type: 'v_prediction' }, 20),
      (input, t) => vFromEps(fakeEps(input, t), input, alphas[t]),
    ).latents;
    const x0 = runTrajectory(
      createScheduler('ddim', { ...SD15_CONFIG, prediction_type: 'sample' }, 20),
      (input, t) => {
        const e = fakeEps(input, t);
        const a = alphas[t];
        return input.map((x, i) => (x - Math.sqrt(1 - a) * e[i]) / Math.sqrt(a));
      },
    ).latents;
    expect(maxAbsDiff(v, eps)).toBeLessThan(1e-4 * Math.max(1, maxAbs(eps)));
    expect(maxAbsDiff(x0, eps)).toBeLessThan(1e-4 * Math.max(1, maxAbs(eps)));
  });

  it('η > 0 draws noise; η = 0 does not', () => {
    const s = createScheduler('ddim', SD15_CONFIG, 4, { eta: 1 });
    const x = new Float32Array(4).fill(0.5);
    expect(() => s.step(x, 751, x)).toThrow(/noise source/);
    const quiet = createScheduler('ddim', SD15_CONFIG, 4);
    expect(quiet.step(x, 751, x).prevSample.every(Number.isFinite)).toBe(true);
  });

  it('clip_sample clamps the x₀ estimate', () => {
    const s = createScheduler('ddim', { ...SD15_CONFIG, clip_sample: true }, 4);
    const x = new Float32Array(4).fill(50);
    const out = s.step(new Float32Array(4), 751, x);
    expect(Math.max(...(out.denoised ?? []))).toBe(1);
  });

  it('rejects thresholding (pixel-space dynamic thresholding)', () => {
    expect(() => createScheduler('ddim', { ...SD15_CONFIG, thresholding: true }, 4)).toThrow(
      /thresholding/,
    );
  });
});
