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
import type { NoiseSource, Scheduler, SchedulerOptions, StepResult } from './types';

// A module-local alias: V8 inlines Math.fround through it (an imported binding is 10× slower).
const f32 = Math.fround;

/**
 * DDIMScheduler (Song et al. 2020, eq. 12): x₀ = (x − √(1−ᾱ)·ε)/√ᾱ,
 * x' = √ᾱ_prev·x₀ + √(1−ᾱ_prev−σ²)·ε (+ σ·z when η > 0), with prev = t − T/N.
 */
export const DDIM_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear' as string,
  trained_betas: null as number[] | null | undefined,
  clip_sample: true,
  set_alpha_to_one: true,
  steps_offset: 0,
  prediction_type: 'epsilon' as string,
  thresholding: false,
  clip_sample_range: 1.0,
  timestep_spacing: 'leading' as string,
  rescale_betas_zero_snr: false,
};

function checkCustomTimesteps(
  timesteps: readonly number[],
  steps: number,
  trainTimesteps: number,
): number[] {
  const where = 'DDIMScheduler: schedulerOverrides.timesteps';
  if (timesteps.length !== steps) {
    throw new SchedulerConfigError(
      `${where} lists ${timesteps.length} timesteps for ${steps} steps; give one per step, or run at ${timesteps.length} steps`,
    );
  }
  timesteps.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= trainTimesteps) {
      throw new SchedulerConfigError(
        `${where}[${i}] = ${t}: use integers from 0 to ${trainTimesteps - 1}`,
      );
    }
    if (i > 0 && t >= timesteps[i - 1]) {
      throw new SchedulerConfigError(
        `${where} must be strictly descending (${timesteps[i - 1]}, then ${t})`,
      );
    }
  });
  return [...timesteps];
}

export class DDIMScheduler implements Scheduler {
  readonly className = 'DDIMScheduler' as const;
  readonly timestepDtype = 'int64' as const;
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly sigmas = undefined;
  readonly timesteps: readonly number[];
  readonly numInferenceSteps: number;
  private readonly config: typeof DDIM_DEFAULTS;
  private readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private readonly eta: number;
  private readonly useClippedModelOutput: boolean;
  private readonly custom: boolean;

  constructor(config: SchedulerConfig, numInferenceSteps: number, options: SchedulerOptions = {}) {
    const c = withDefaults(DDIM_DEFAULTS, config);
    this.config = c;
    checkSteps(this.className, numInferenceSteps, c.num_train_timesteps);
    rejectThresholding(this.className, c.thresholding);
    if (!['epsilon', 'v_prediction', 'sample'].includes(c.prediction_type)) {
      throw new SchedulerConfigError(
        `${this.className}: unknown prediction_type ${c.prediction_type}`,
      );
    }
    this.eta = options.eta ?? 0;
    if (!(this.eta >= 0)) throw new SchedulerConfigError(`${this.className}: eta must be >= 0`);
    this.useClippedModelOutput = options.useClippedModelOutput ?? false;
    this.numInferenceSteps = numInferenceSteps;
    this.alphasCumprod = buildAlphasCumprod(c);
    this.finalAlphaCumprod = c.set_alpha_to_one ? 1 : this.alphasCumprod[0];
    this.custom = options.timesteps !== undefined;
    this.timesteps = options.timesteps
      ? checkCustomTimesteps(options.timesteps, numInferenceSteps, c.num_train_timesteps)
      : spacedTimesteps(
          c.timestep_spacing,
          c.num_train_timesteps,
          numInferenceSteps,
          c.steps_offset,
        );
  }

  /** The timestep this step lands on: T/N below on the spaced grid, the next entry on a custom one. */
  private previousTimestep(timestep: number): number {
    if (!this.custom)
      return timestep - Math.floor(this.config.num_train_timesteps / this.numInferenceSteps);
    return nextListedTimestep(this.className, this.timesteps, timestep);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
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
    if (a === undefined)
      throw new RangeError(`${this.className}: timestep ${timestep} is out of range`);
    const aPrev = prevT >= 0 ? this.alphasCumprod[prevT] : this.finalAlphaCumprod;
    const b = f32(1 - a);
    const sa = f32(Math.sqrt(a));
    const sb = f32(Math.sqrt(b));
    const bPrev = f32(1 - aPrev);
    const variance = f32(f32(bPrev / b) * f32(1 - f32(a / aPrev)));
    const std = f32(this.eta * f32(Math.sqrt(variance)));
    const dirCoeff = f32(Math.sqrt(f32(f32(1 - aPrev) - f32(std * std))));
    const x0Coeff = f32(Math.sqrt(aPrev));
    const range = c.clip_sample_range;
    const n = sample.length;
    const z = this.eta > 0 ? requireNoise(noise, this.className, n) : undefined;
    const prevSample = new Float32Array(n);
    const denoised = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const x = sample[k];
      const m = modelOutput[k];
      let x0: number;
      let eps: number;
      if (c.prediction_type === 'epsilon') {
        x0 = f32(f32(x - f32(sb * m)) / sa);
        eps = m;
      } else if (c.prediction_type === 'v_prediction') {
        x0 = f32(f32(sa * x) - f32(sb * m));
        eps = f32(f32(sa * m) + f32(sb * x));
      } else {
        x0 = m;
        eps = f32(f32(x - f32(sa * x0)) / sb);
      }
      if (c.clip_sample) x0 = Math.min(range, Math.max(-range, x0));
      if (this.useClippedModelOutput) eps = f32(f32(x - f32(sa * x0)) / sb);
      denoised[k] = x0;
      let prev = f32(f32(x0Coeff * x0) + f32(dirCoeff * eps));
      if (z) prev = f32(prev + f32(std * z[k]));
      prevSample[k] = prev;
    }
    return { prevSample, denoised };
  }
}
