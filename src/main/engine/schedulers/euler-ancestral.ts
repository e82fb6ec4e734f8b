import { type SchedulerConfig, SchedulerConfigError, withDefaults } from './config';
import { eulerInitNoiseSigma, eulerTimesteps, scaleBySigma } from './euler-timesteps';
import {
  buildAlphasCumprod,
  checkLengths,
  checkSteps,
  indexForTimestep,
  requireNoise,
} from './schedule-common';
import { sigmasAtTimesteps, trainingSigmas } from './sigmas';
import type { NoiseSource, Scheduler, StepResult } from './types';

// A module-local alias: V8 inlines Math.fround through it (an imported binding is 10× slower).
const f32 = Math.fround;

/**
 * EulerAncestralDiscreteScheduler ("Euler a", k-diffusion sample_euler_ancestral): an Euler step
 * down to σ_down, then fresh noise of size σ_up, with σ_up² + σ_down² = σ_next².
 * Draws noise on every step. SD-Turbo uses it with timestep_spacing "trailing".
 */
export const EULER_ANCESTRAL_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear' as string,
  trained_betas: null as number[] | null | undefined,
  prediction_type: 'epsilon' as string,
  timestep_spacing: 'linspace' as string,
  steps_offset: 0,
  rescale_betas_zero_snr: false,
};

export class EulerAncestralDiscreteScheduler implements Scheduler {
  readonly className = 'EulerAncestralDiscreteScheduler' as const;
  readonly timestepDtype = 'float32' as const;
  readonly order = 1;
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma: number;
  readonly numInferenceSteps: number;
  private readonly predictionType: string;
  private stepIndex: number | undefined;

  constructor(config: SchedulerConfig, numInferenceSteps: number) {
    const c = withDefaults(EULER_ANCESTRAL_DEFAULTS, config);
    checkSteps(this.className, numInferenceSteps, c.num_train_timesteps);
    if (c.prediction_type !== 'epsilon' && c.prediction_type !== 'v_prediction') {
      // diffusers raises NotImplementedError for "sample" too.
      throw new SchedulerConfigError(
        `${this.className}: prediction_type ${c.prediction_type} is not supported (epsilon or v_prediction)`,
      );
    }
    this.predictionType = c.prediction_type;
    this.numInferenceSteps = numInferenceSteps;
    const table = trainingSigmas(buildAlphasCumprod(c, true));
    const timesteps = eulerTimesteps(
      c.timestep_spacing,
      c.num_train_timesteps,
      numInferenceSteps,
      c.steps_offset,
    );
    this.timesteps = timesteps;
    this.sigmas = [...sigmasAtTimesteps(timesteps, table), 0].map(f32);
    this.initNoiseSigma = eulerInitNoiseSigma(this.sigmas, c.timestep_spacing);
  }

  scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    this.stepIndex ??= indexForTimestep(this.timesteps, timestep);
    return scaleBySigma(sample, this.sigmas[this.stepIndex]);
  }

  step(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
    noise?: NoiseSource,
  ): StepResult {
    checkLengths(modelOutput, sample);
    this.stepIndex ??= indexForTimestep(this.timesteps, timestep);
    const i = this.stepIndex;
    if (i >= this.timesteps.length)
      throw new RangeError(`${this.className}: the schedule is finished`);
    const sigma = this.sigmas[i];
    const sigmaTo = this.sigmas[i + 1];
    const from2 = f32(sigma * sigma);
    const to2 = f32(sigmaTo * sigmaTo);
    const sigmaUp = f32(Math.sqrt(f32(f32(to2 * f32(from2 - to2)) / from2)));
    const sigmaDown = f32(Math.sqrt(f32(to2 - f32(sigmaUp * sigmaUp))));
    const dt = f32(sigmaDown - sigma);
    const s2p1 = f32(from2 + 1);
    const cOut = f32(-sigma / f32(Math.sqrt(s2p1)));
    const n = sample.length;
    const z = requireNoise(noise, this.className, n);
    const prevSample = new Float32Array(n);
    const denoised = new Float32Array(n);
    const eps = this.predictionType === 'epsilon';
    for (let k = 0; k < n; k++) {
      const x = sample[k];
      const m = modelOutput[k];
      const x0 = eps ? f32(x - f32(sigma * m)) : f32(f32(m * cOut) + f32(x / s2p1));
      denoised[k] = x0;
      const derivative = f32(f32(x - x0) / sigma);
      const stepped = f32(x + f32(derivative * dt));
      prevSample[k] = stepped + f32(z[k] * sigmaUp);
    }
    this.stepIndex = i + 1;
    return { prevSample, denoised };
  }
}
