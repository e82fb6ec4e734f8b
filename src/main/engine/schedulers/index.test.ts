import { describe, expect, it } from 'vitest';
import { createScheduler, SCHEDULER_NAMES, SchedulerConfigError } from './index';
import { SD15_CONFIG } from './scheduler-test-kit';

describe('createScheduler', () => {
  it('knows every studio name and maps it to its diffusers class', () => {
    const classes = SCHEDULER_NAMES.map((n) => createScheduler(n, SD15_CONFIG, 4).className);
    expect(classes).toEqual([
      'EulerDiscreteScheduler',
      'EulerAncestralDiscreteScheduler',
      'DDIMScheduler',
      'PNDMScheduler',
      'DPMSolverMultistepScheduler',
      'DPMSolverMultistepScheduler',
      'LCMScheduler',
      'DDPMScheduler',
    ]);
  });

  it('accepts diffusers class names and a whole scheduler_config.json, ignoring unknown keys', () => {
    const s = createScheduler(
      'PNDMScheduler',
      {
        _class_name: 'PNDMScheduler',
        _diffusers_version: '0.6.0',
        ...SD15_CONFIG,
        some_future_key: 3,
      },
      50,
    );
    expect(s.timesteps.slice(0, 3)).toEqual([981, 961, 961]);
  });

  it('applies each class its own defaults (DDIM: set_alpha_to_one, steps_offset 0)', () => {
    expect(createScheduler('ddim', {}, 4).timesteps).toEqual([750, 500, 250, 0]);
  });

  it('names unknown schedulers and lists the valid ones', () => {
    expect(() => createScheduler('heun', SD15_CONFIG, 4)).toThrow(
      /unknown scheduler "heun": use one of euler/,
    );
  });

  it('reports bad config values by key', () => {
    const bad =
      (config: Record<string, unknown>): (() => unknown) =>
      () =>
        createScheduler('euler', config, 4);
    expect(bad({ prediction_type: 'x0' })).toThrow(SchedulerConfigError);
    expect(bad({ prediction_type: 'x0' })).toThrow(/prediction_type/);
    expect(bad({ beta_schedule: 'sigmoid' })).toThrow(/beta_schedule/);
    expect(bad({ num_train_timesteps: -5 })).toThrow(/num_train_timesteps/);
    expect(bad({ timestep_spacing: 'karras' })).toThrow(/timestep_spacing/);
    expect(() => createScheduler('euler', 'not an object', 4)).toThrow(SchedulerConfigError);
  });

  it('validates the number of steps', () => {
    expect(() => createScheduler('euler', SD15_CONFIG, 0)).toThrow(/positive integer/);
    expect(() => createScheduler('ddim', SD15_CONFIG, 1001)).toThrow(
      /cannot exceed num_train_timesteps/,
    );
  });

  it('accepts "-inf" as written in golden full_config files', () => {
    const s = createScheduler('dpm++2m', { ...SD15_CONFIG, lambda_min_clipped: '-inf' }, 4);
    expect(s.timesteps).toEqual([999, 749, 500, 250]);
  });

  it('step() on 4×64×64 latents costs well under a millisecond', () => {
    const n = 4 * 64 * 64;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const e = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
    const run = (): number => {
      const s = createScheduler('dpm++2m', SD15_CONFIG, 20);
      let latents: Float32Array = x;
      const start = performance.now();
      for (const t of s.timesteps) latents = s.step(e, t, latents).prevSample;
      return (performance.now() - start) / s.timesteps.length;
    };
    run(); // let the JIT compile the loops first
    const perStep = Math.min(run(), run());
    expect(perStep).toBeLessThan(5); // ~0.1-0.3 ms here; generous for a loaded CI machine
  });
});
