import { type SchedulerConfig, SchedulerConfigError, withDefaults } from './config';
import { linspace } from './numeric';
import {
  buildAlphasCumprod,
  checkLengths,
  checkSteps,
  indexForTimestep,
  rejectThresholding,
  requireNoise,
} from './schedule-common';
import type { NoiseSource, Scheduler, StepResult } from './types';

// A module-local alias: V8 inlines Math.fround through it (an imported binding is 10× slower).
const f32 = Math.fround;

/**
 * LCMScheduler (Latent Consistency Models, Luo et al. 2023): each step predicts x₀, applies the
 * consistency boundary condition denoised = c_out·x₀ + c_skip·x, then re-noises to the next
 * timestep with fresh noise (not on the last step). Decode the last step's `denoised`.
 */
export const LCM_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear' as string,
  trained_betas: null as number[] | null | undefined,
  original_inference_steps: 50,
  clip_sample: false,
  clip_sample_range: 1.0,
  set_alpha_to_one: true,
  steps_offset: 0,
  prediction_type: 'epsilon' as string,
  thresholding: false,
  timestep_scaling: 10.0,
  rescale_betas_zero_snr: false,
};

/** LCM's boundary-condition data standard deviation (sigma_data in the paper). */
const SIGMA_DATA = 0.5;

export class LCMScheduler implements Scheduler {
  readonly className = 'LCMScheduler' as const;
  readonly timestepDtype = 'int64' as const;
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly sigmas = undefined;
  readonly timesteps: readonly number[];
  readonly numInferenceSteps: number;
  private readonly config: typeof LCM_DEFAULTS;
  private readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private stepIndex: number | undefined;

  constructor(config: SchedulerConfig, numInferenceSteps: number) {
    const c = withDefaults(LCM_DEFAULTS, config);
    this.config = c;
    const T = c.num_train_timesteps;
    checkSteps(this.className, numInferenceSteps, T);
    rejectThresholding(this.className, c.thresholding);
    if (!['epsilon', 'v_prediction', 'sample'].includes(c.prediction_type)) {
      throw new SchedulerConfigError(
        `${this.className}: unknown prediction_type ${c.prediction_type}`,
      );
    }
    const original = c.original_inference_steps;
    if (original > T) {
      throw new SchedulerConfigError(
        `${this.className}: original_inference_steps ${original} cannot exceed num_train_timesteps ${T}`,
      );
    }
    if (numInferenceSteps > original) {
      throw new SchedulerConfigError(
        `${this.className}: num_inference_steps ${numInferenceSteps} cannot exceed original_inference_steps ${original}`,
      );
    }
    this.numInferenceSteps = numInferenceSteps;
    this.alphasCumprod = buildAlphasCumprod(c);
    this.finalAlphaCumprod = c.set_alpha_to_one ? 1 : this.alphasCumprod[0];
    // The distillation schedule: k = T / original steps, timesteps k·i − 1 for i = 1..original.
    const k = Math.floor(T / original);
    const origin: number[] = [];
    for (let i = original; i >= 1; i--) origin.push(i * k - 1);
    // Evenly spaced indices into it: floor(linspace(0, len, N, endpoint=False)).
    this.timesteps = linspace(0, origin.length, numInferenceSteps, false).map(
      (x) => origin[Math.floor(x)],
    );
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
    this.stepIndex ??= indexForTimestep(this.timesteps, timestep);
    const i = this.stepIndex;
    const last = i === this.numInferenceSteps - 1;
    const prevT = i + 1 < this.timesteps.length ? this.timesteps[i + 1] : timestep;
    const a = this.alphasCumprod[timestep];
    const aPrev = prevT >= 0 ? this.alphasCumprod[prevT] : this.finalAlphaCumprod;
    const sa = f32(Math.sqrt(a));
    const sb = f32(Math.sqrt(f32(1 - a)));
    const scaled = f32(timestep * c.timestep_scaling);
    const s2 = f32(scaled * scaled);
    const d2 = SIGMA_DATA * SIGMA_DATA;
    const cSkip = f32(d2 / f32(s2 + d2));
    const cOut = f32(scaled / f32(Math.sqrt(f32(s2 + d2))));
    const saPrev = f32(Math.sqrt(aPrev));
    const sbPrev = f32(Math.sqrt(f32(1 - aPrev)));
    const range = c.clip_sample_range;
    const n = sample.length;
    const z = last ? undefined : requireNoise(noise, this.className, n);
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
      const d = f32(f32(cOut * x0) + f32(cSkip * x));
      denoised[k] = d;
      prevSample[k] = z ? f32(f32(saPrev * d) + f32(sbPrev * z[k])) : d;
    }
    this.stepIndex = i + 1;
    return { prevSample, denoised };
  }
}
