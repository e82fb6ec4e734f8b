import { describe, expect, it } from 'vitest';
import { createScheduler, parseSchedulerConfig } from './index';
import { DDIMScheduler } from './ddim';
import { DPMSolverMultistepScheduler } from './dpm-solver-multistep';
import {
  fakeEps,
  maxAbs,
  maxAbsDiff,
  runTrajectory,
  SD15_CONFIG,
  vFromEps,
} from './scheduler-test-kit';

const SIGMA_MAX = 14.614645;
const SIGMA_MIN = 0.0291675;

describe('dpm++2m-karras', () => {
  const s = createScheduler('dpm++2m-karras', SD15_CONFIG, 10);

  it('uses the Karras ρ=7 ramp from σ_max to σ_min, then 0', () => {
    expect(s.className).toBe('DPMSolverMultistepScheduler');
    const sigmas = s.sigmas ?? [];
    expect(sigmas).toHaveLength(11);
    expect(sigmas[0]).toBeCloseTo(SIGMA_MAX, 4);
    expect(sigmas[9]).toBeCloseTo(SIGMA_MIN, 6);
    expect(sigmas[10]).toBe(0);
    const roots = sigmas.slice(0, 10).map((x) => x ** (1 / 7));
    for (let i = 1; i < 10; i++)
      expect(roots[i] - roots[i - 1]).toBeCloseTo(roots[1] - roots[0], 5);
  });

  it('gives the timesteps diffusers prints for SD with use_karras_sigmas at 20 steps', () => {
    // A diffusers pipeline's own debug print (DPMSolverMultistepScheduler, use_karras_sigmas=True,
    // SD/SDXL scaled_linear 0.00085..0.012), found in a public repository; not our output.
    expect(createScheduler('dpm++2m-karras', SD15_CONFIG, 20).timesteps).toEqual([
      999, 962, 921, 876, 827, 772, 710, 640, 561, 474, 380, 285, 197, 123, 69, 35, 15, 6, 2, 0,
    ]);
  });

  it('maps the sigmas back to integer timesteps from 999 down to 0', () => {
    expect(s.timesteps[0]).toBe(999);
    expect(s.timesteps.at(-1)).toBe(0);
    expect(s.timesteps.every((t) => Number.isInteger(t))).toBe(true);
    for (let i = 1; i < s.timesteps.length; i++)
      expect(s.timesteps[i]).toBeLessThan(s.timesteps[i - 1]);
  });

  it('denoises the fake model to a finite sample close to the non-Karras solver', () => {
    const karras = runTrajectory(createScheduler('dpm++2m-karras', SD15_CONFIG, 25)).latents;
    const plain = runTrajectory(createScheduler('dpm++2m', SD15_CONFIG, 25)).latents;
    expect(karras.every(Number.isFinite)).toBe(true);
    expect(maxAbsDiff(karras, plain)).toBeLessThan(0.02 * maxAbs(plain));
  });

  it('pins the DPM++ 2M settings even if the model config says otherwise', () => {
    const pinned = createScheduler('dpm++2m', { ...SD15_CONFIG, use_karras_sigmas: true }, 10);
    expect(pinned.sigmas?.[1]).toBeCloseTo(
      createScheduler('DPMSolverMultistepScheduler', SD15_CONFIG, 10).sigmas?.[1] ?? NaN,
      6,
    );
  });
});

describe('DPMSolverMultistepScheduler spacing', () => {
  const ts = (spacing: string, n = 4): readonly number[] =>
    createScheduler('dpm++2m', { ...SD15_CONFIG, timestep_spacing: spacing }, n).timesteps;
  it('linspace takes N+1 points and drops the last', () => {
    expect(ts('linspace')).toEqual([999, 749, 500, 250]);
  });
  it('leading uses ⌊T/(N+1)⌋ plus steps_offset', () => {
    expect(ts('leading')).toEqual([801, 601, 401, 201]);
  });
  it('trailing', () => {
    expect(ts('trailing')).toEqual([999, 749, 499, 249]);
  });
});

describe('DPMSolverMultistepScheduler equivalences', () => {
  it('first order DPM-Solver++ equals DDIM (η = 0) on the same timesteps', () => {
    const config = { ...SD15_CONFIG, timestep_spacing: 'trailing', final_sigmas_type: 'sigma_min' };
    const dpm = new DPMSolverMultistepScheduler(
      parseSchedulerConfig({ ...config, solver_order: 1 }),
      10,
    );
    const ddim = new DDIMScheduler(parseSchedulerConfig(config), 10);
    expect(dpm.timesteps).toEqual(ddim.timesteps);
    const a = runTrajectory(dpm).latents;
    const b = runTrajectory(ddim).latents;
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-4 * Math.max(1, maxAbs(b)));
  });

  it('v_prediction with the matching v gives the same trajectory as epsilon', () => {
    for (const name of ['dpm++2m', 'dpm++2m-karras']) {
      const eps = runTrajectory(createScheduler(name, SD15_CONFIG, 12)).latents;
      const vSched = createScheduler(name, { ...SD15_CONFIG, prediction_type: 'v_prediction' }, 12);
      const v = runTrajectory(vSched, (input, t, _x, j) => {
        const sigma = vSched.sigmas?.[j] ?? NaN;
        return vFromEps(fakeEps(input, t), input, 1 / (sigma * sigma + 1));
      }).latents;
      expect(maxAbsDiff(v, eps)).toBeLessThan(1e-4 * Math.max(1, maxAbs(eps)));
    }
  });

  it('third order, heun and sde variants run; sde needs a noise source', () => {
    for (const extra of [
      { solver_order: 3 },
      { solver_type: 'heun' },
      { algorithm_type: 'dpmsolver', final_sigmas_type: 'sigma_min' },
      { algorithm_type: 'sde-dpmsolver++' },
    ]) {
      const s = createScheduler('DPMSolverMultistepScheduler', { ...SD15_CONFIG, ...extra }, 20);
      const out = runTrajectory(s).latents;
      expect(out.every(Number.isFinite), JSON.stringify(extra)).toBe(true);
    }
    const sde = createScheduler(
      'DPMSolverMultistepScheduler',
      { ...SD15_CONFIG, algorithm_type: 'sde-dpmsolver++' },
      4,
    );
    const x = new Float32Array(8);
    expect(() => sde.step(x, sde.timesteps[0], x)).toThrow(/noise source/);
  });

  it('rejects final_sigmas_type "zero" for the non-++ algorithms, like diffusers', () => {
    expect(() =>
      createScheduler(
        'DPMSolverMultistepScheduler',
        { ...SD15_CONFIG, algorithm_type: 'dpmsolver' },
        4,
      ),
    ).toThrow(/final_sigmas_type "zero"/);
  });
});
