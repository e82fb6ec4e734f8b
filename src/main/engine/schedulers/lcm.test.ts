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

describe('LCMScheduler', () => {
  it('picks evenly spaced indices of the 50-step distillation schedule', () => {
    expect(createScheduler('lcm', SD15_CONFIG, 4).timesteps).toEqual([999, 759, 499, 259]);
    expect(createScheduler('lcm', SD15_CONFIG, 1).timesteps).toEqual([999]);
    expect(
      createScheduler('lcm', { ...SD15_CONFIG, original_inference_steps: 100 }, 4).timesteps,
    ).toEqual([999, 749, 499, 249]);
  });

  it('re-noises between steps but not after the last; the last prevSample is denoised', () => {
    const s = createScheduler('lcm', SD15_CONFIG, 2);
    const x = new Float32Array(8).fill(0.3);
    expect(() => s.step(x, 999, x)).toThrow(/noise source/);
    const again = createScheduler('lcm', SD15_CONFIG, 2);
    again.step(x, 999, x, (n) => new Float32Array(n));
    const last = again.step(x, 499, x);
    expect(last.prevSample).toEqual(last.denoised);
  });

  it('v_prediction with the matching v gives the same result as epsilon', () => {
    const eps =
      runTrajectory(createScheduler('lcm', SD15_CONFIG, 4)).denoised ?? new Float32Array();
    const v =
      runTrajectory(
        createScheduler('lcm', { ...SD15_CONFIG, prediction_type: 'v_prediction' }, 4),
        (input, t) => vFromEps(fakeEps(input, t), input, alphas[t]),
      ).denoised ?? new Float32Array();
    expect(eps.length).toBe(256);
    expect(maxAbsDiff(v, eps)).toBeLessThan(1e-4 * Math.max(1, maxAbs(eps)));
  });

  it('rejects more steps than original_inference_steps', () => {
    expect(() => createScheduler('lcm', SD15_CONFIG, 51)).toThrow(/original_inference_steps 50/);
  });
});
