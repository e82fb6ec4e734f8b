import { type SchedulerConfig, SchedulerConfigError, withDefaults } from './config';
import { eulerInitNoiseSigma, eulerTimesteps, scaleBySigma } from './euler-timesteps';
import { buildAlphasCumprod, checkLengths, checkSteps, indexForTimestep } from './schedule-common';
import {
  exponentialSigmas,
  karrasSigmas,
  logSigmas,
  sigmaToT,
  sigmasAtTimesteps,
  trainingSigmas,
} from './sigmas';
import { torchLinspaceF32 } from './betas';
import type { Scheduler, StepResult } from './types';

// A module-local alias: V8 inlines Math.fround through it (an imported binding is 10× slower).
const f32 = Math.fround;

/**
 * EulerDiscreteScheduler (diffusers; Karras et al. 2022, Algorithm 2 with s_churn = 0):
 * x₀ = x − σ·ε, d = (x − x₀)/σ, x' = x + d·(σ_next − σ). Deterministic.
 */
export const EULER_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear' as string,
  trained_betas: null as number[] | null | undefined,
  prediction_type: 'epsilon' as string,
  interpolation_type: 'linear' as string,
  use_karras_sigmas: false as boolean | null | undefined,
  use_exponential_sigmas: false as boolean | null | undefined,
  use_beta_sigmas: false as boolean | null | undefined,
  sigma_min: null as number | null | undefined,
  sigma_max: null as number | null | undefined,
  timestep_spacing: 'linspace' as string,
  timestep_type: 'discrete' as string,
  steps_offset: 0,
  rescale_betas_zero_snr: false,
  final_sigmas_type: 'zero' as string,
};

export class EulerDiscreteScheduler implements Scheduler {
  readonly className = 'EulerDiscreteScheduler' as const;
  readonly timestepDtype = 'float32' as const;
  readonly order = 1;
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma: number;
  readonly numInferenceSteps: number;
  private readonly config: typeof EULER_DEFAULTS;
  private stepIndex: number | undefined;

  constructor(config: SchedulerConfig, numInferenceSteps: number) {
    const c = withDefaults(EULER_DEFAULTS, config);
    this.config = c;
    const T = c.num_train_timesteps;
    checkSteps(this.className, numInferenceSteps, T);
    if (c.use_beta_sigmas) {
      throw new SchedulerConfigError(`${this.className}: use_beta_sigmas is not supported`);
    }
    if ([c.use_karras_sigmas, c.use_exponential_sigmas].filter(Boolean).length > 1) {
      throw new SchedulerConfigError(
        `${this.className}: only one of use_karras_sigmas / use_exponential_sigmas can be set`,
      );
    }
    if (!['epsilon', 'v_prediction', 'sample'].includes(c.prediction_type)) {
      throw new SchedulerConfigError(
        `${this.className}: unknown prediction_type ${c.prediction_type}`,
      );
    }
    this.numInferenceSteps = numInferenceSteps;
    const cumprod = buildAlphasCumprod(c, true);
    const table = trainingSigmas(cumprod);
    const logTable = logSigmas(table);

    let timesteps = eulerTimesteps(c.timestep_spacing, T, numInferenceSteps, c.steps_offset);
    let sigmas: number[];
    if (c.interpolation_type === 'linear') {
      sigmas = sigmasAtTimesteps(timesteps, table);
    } else if (c.interpolation_type === 'log_linear') {
      // diffusers: torch.linspace(log σ_max, log σ_min, N + 1).exp() — one more sigma than steps.
      const logs = torchLinspaceF32(
        Math.log(table[T - 1]),
        Math.log(table[0]),
        numInferenceSteps + 1,
      );
      sigmas = Array.from(logs, (l) => f32(Math.exp(l)));
    } else {
      throw new SchedulerConfigError(
        `${this.className}: unknown interpolation_type ${c.interpolation_type}`,
      );
    }
    if (c.use_karras_sigmas || c.use_exponential_sigmas) {
      const sigmaMin = c.sigma_min ?? sigmas[sigmas.length - 1];
      const sigmaMax = c.sigma_max ?? sigmas[0];
      sigmas = c.use_karras_sigmas
        ? karrasSigmas(sigmaMin, sigmaMax, numInferenceSteps)
        : exponentialSigmas(sigmaMin, sigmaMax, numInferenceSteps);
      timesteps = sigmas.map((s) => sigmaToT(s, logTable));
    }
    const sigmaLast =
      c.final_sigmas_type === 'sigma_min' ? table[0] : c.final_sigmas_type === 'zero' ? 0 : NaN;
    if (Number.isNaN(sigmaLast)) {
      throw new SchedulerConfigError(
        `${this.className}: unknown final_sigmas_type ${c.final_sigmas_type}`,
      );
    }
    this.sigmas = [...sigmas, sigmaLast].map(f32);
    this.timesteps =
      c.timestep_type === 'continuous' && c.prediction_type === 'v_prediction'
        ? this.sigmas.slice(0, -1).map((s) => f32(0.25 * f32(Math.log(s))))
        : timesteps.map(f32);
    this.initNoiseSigma = eulerInitNoiseSigma(this.sigmas, c.timestep_spacing);
  }

  scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    this.stepIndex ??= indexForTimestep(this.timesteps, timestep);
    return scaleBySigma(sample, this.sigmas[this.stepIndex]);
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array): StepResult {
    checkLengths(modelOutput, sample);
    this.stepIndex ??= indexForTimestep(this.timesteps, timestep);
    const i = this.stepIndex;
    if (i >= this.timesteps.length)
      throw new RangeError(`${this.className}: the schedule is finished`);
    const sigma = this.sigmas[i];
    const dt = f32(this.sigmas[i + 1] - sigma);
    const n = sample.length;
    const prevSample = new Float32Array(n);
    const denoised = new Float32Array(n);
    const type = this.config.prediction_type;
    // v-prediction: x₀ = v·(−σ/√(σ²+1)) + x/(σ²+1)
    const s2p1 = f32(f32(sigma * sigma) + 1);
    const cOut = f32(-sigma / f32(Math.sqrt(s2p1)));
    for (let k = 0; k < n; k++) {
      const x = sample[k];
      const m = modelOutput[k];
      const x0 =
        type === 'epsilon'
          ? f32(x - f32(sigma * m))
          : type === 'v_prediction'
            ? f32(f32(m * cOut) + f32(x / s2p1))
            : m;
      denoised[k] = x0;
      const derivative = f32(f32(x - x0) / sigma);
      prevSample[k] = x + f32(derivative * dt);
    }
    this.stepIndex = i + 1;
    return { prevSample, denoised };
  }
}
