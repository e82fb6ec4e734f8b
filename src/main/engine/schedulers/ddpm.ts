import { type SchedulerConfig, SchedulerConfigError, withDefaults } from './config';
import {
  buildAlphasCumprod,
  checkLengths,
  checkSteps,
  nextListedTimestep,
  rejectThresholding,
  requireNoise,
} from './schedule-common';
import { spacedTimesteps } from './spacing';
import type { NoiseSource, Scheduler, StepResult } from './types';

// A module-local alias: V8 inlines Math.fround through it (an imported binding is 10× slower).
const f32 = Math.fround;

/**
 * DDPMScheduler (Ho et al. 2020, eqs. 6-7): the posterior mean of x_{t−1} given x₀ and x_t, plus
 * noise with the posterior variance ("fixed_small") on every step with t > 0.
 */
export const DDPM_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear' as string,
  trained_betas: null as number[] | null | undefined,
  variance_type: 'fixed_small' as string | null | undefined,
  clip_sample: true,
  prediction_type: 'epsilon' as string,
  thresholding: false,
  clip_sample_range: 1.0,
  timestep_spacing: 'leading' as string,
  steps_offset: 0,
  rescale_betas_zero_snr: false,
};

const VARIANCE_TYPES = ['fixed_small', 'fixed_small_log', 'fixed_large'];

export class DDPMScheduler implements Scheduler {
  readonly className = 'DDPMScheduler' as const;
  readonly timestepDtype = 'int64' as const;
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly sigmas = undefined;
  readonly timesteps: readonly number[];
  readonly numInferenceSteps: number;
  private readonly config: typeof DDPM_DEFAULTS;
  private readonly alphasCumprod: Float32Array;

  constructor(config: SchedulerConfig, numInferenceSteps: number) {
    const c = withDefaults(DDPM_DEFAULTS, config);
    this.config = c;
    checkSteps(this.className, numInferenceSteps, c.num_train_timesteps);
    rejectThresholding(this.className, c.thresholding);
    if (!VARIANCE_TYPES.includes(c.variance_type ?? 'fixed_small')) {
      throw new SchedulerConfigError(
        `${this.className}: variance_type ${c.variance_type} is not supported (${VARIANCE_TYPES.join(', ')})`,
      );
    }
    if (!['epsilon', 'v_prediction', 'sample'].includes(c.prediction_type)) {
      throw new SchedulerConfigError(
        `${this.className}: unknown prediction_type ${c.prediction_type}`,
      );
    }
    this.numInferenceSteps = numInferenceSteps;
    this.alphasCumprod = buildAlphasCumprod(c);
    this.timesteps = spacedTimesteps(
      c.timestep_spacing,
      c.num_train_timesteps,
      numInferenceSteps,
      c.steps_offset,
    );
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  /** diffusers previous_timestep: the next entry of the schedule, −1 after the last. */
  private previousTimestep(timestep: number): number {
    return nextListedTimestep(this.className, this.timesteps, timestep);
  }

  step(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
    noise?: NoiseSource,
  ): StepResult {
    checkLengths(modelOutput, sample);
    const c = this.config;
    const prevT = this.previousTimestep(timestep);
    const a = this.alphasCumprod[timestep];
    const aPrev = prevT >= 0 ? this.alphasCumprod[prevT] : 1;
    const b = f32(1 - a);
    const bPrev = f32(1 - aPrev);
    const curAlpha = f32(a / aPrev);
    const curBeta = f32(1 - curAlpha);
    const sa = f32(Math.sqrt(a));
    const sb = f32(Math.sqrt(b));
    const x0Coeff = f32(f32(f32(Math.sqrt(aPrev)) * curBeta) / b);
    const xtCoeff = f32(f32(f32(Math.sqrt(curAlpha)) * bPrev) / b);
    // The noise scale: posterior variance (clamped as diffusers does before taking logs).
    let noiseScale = 0;
    if (timestep > 0) {
      const variance = Math.max(f32(f32(bPrev / b) * curBeta), 1e-20);
      const type = c.variance_type ?? 'fixed_small';
      noiseScale =
        type === 'fixed_small_log'
          ? f32(Math.exp(f32(0.5 * f32(Math.log(variance)))))
          : f32(Math.sqrt(type === 'fixed_large' ? curBeta : variance));
    }
    const range = c.clip_sample_range;
    const n = sample.length;
    const z = timestep > 0 ? requireNoise(noise, this.className, n) : undefined;
    const prevSample = new Float32Array(n);
    const denoised = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const x = sample[k];
      const m = modelOutput[k];
      let x0 =
        c.prediction_type === 'epsilon'
          ? f32(f32(x - f32(sb * m)) / sa)
          : c.prediction_type === 'v_prediction'
            ? f32(f32(sa * x) - f32(sb * m))
            : m;
      if (c.clip_sample) x0 = Math.min(range, Math.max(-range, x0));
      denoised[k] = x0;
      let prev = f32(f32(x0Coeff * x0) + f32(xtCoeff * x));
      if (z) prev = f32(prev + f32(noiseScale * z[k]));
      prevSample[k] = prev;
    }
    return { prevSample, denoised };
  }
}
