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

  it('custom timesteps: the spaced grid given explicitly is the same trajectory', () => {
    const spaced = createScheduler('ddim', { ...SD15_CONFIG, steps_offset: 86 }, 8);
    const custom = createScheduler('ddim', SD15_CONFIG, 8, { timesteps: spaced.timesteps });
    expect(custom.timesteps).toEqual([961, 836, 711, 586, 461, 336, 211, 86]);
    expect(runTrajectory(custom).latents).toEqual(runTrajectory(spaced).latents);
  });

  it('custom timesteps: each step lands on the next listed timestep, the last on the final alpha', () => {
    const grid = [961, 921, 841, 721, 561, 401, 241, 81];
    const s = createScheduler('ddim', SD15_CONFIG, 8, { timesteps: grid });
    expect(s.timesteps).toEqual(grid);
    const x = Float32Array.from([0.3, -1.2, 0.8, 2.0]);
    const eps = Float32Array.from([0.1, -0.4, 0.9, -0.2]);
    grid.forEach((t, i) => {
      const aPrev = i + 1 < grid.length ? alphas[grid[i + 1]] : alphas[0];
      const want = Array.from(x, (v, k) => {
        const x0 = (v - Math.sqrt(1 - alphas[t]) * eps[k]) / Math.sqrt(alphas[t]);
        return Math.sqrt(aPrev) * x0 + Math.sqrt(1 - aPrev) * eps[k];
      });
      const got = Array.from(s.step(eps, t, x).prevSample);
      got.forEach((v, k) => expect(v).toBeCloseTo(want[k], 5));
    });
    expect(() => s.step(eps, 500, x)).toThrow(/not in the schedule/);
  });

  it('custom timesteps: refuses a list that does not fit, naming the fix', () => {
    const make =
      (timesteps: number[], steps = timesteps.length) =>
      () =>
        createScheduler('ddim', SD15_CONFIG, steps, { timesteps });
    expect(make([900, 500], 3)).toThrow(/lists 2 timesteps for 3 steps/);
    expect(make([500, 900])).toThrow(/strictly descending \(500, then 900\)/);
    expect(make([1000, 10])).toThrow(/timesteps\[0\] = 1000: use integers from 0 to 999/);
    expect(make([900.5, 10])).toThrow(/integers/);
    expect(() => createScheduler('euler', SD15_CONFIG, 2, { timesteps: [900, 10] })).toThrow(
      /does not take an explicit timesteps list; use ddim/,
    );
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
