import { type SchedulerConfig, SchedulerConfigError, withDefaults } from './config';
import { linspace, roundHalfEven, arange } from './numeric';
import { buildAlphasCumprod, checkLengths, checkSteps } from './schedule-common';
import type { Scheduler, StepResult } from './types';

// A module-local alias: V8 inlines Math.fround through it (an imported binding is 10× slower).
const f32 = Math.fround;

/**
 * PNDMScheduler (Liu et al. 2022, "Pseudo Numerical Methods for Diffusion Models"). With
 * skip_prk_steps (every SD config) it is PLMS: linear multistep on the last four ε, with the
 * second timestep repeated (N + 1 UNet calls). Without it, 12 Runge-Kutta calls come first.
 */
export const PNDM_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear' as string,
  trained_betas: null as number[] | null | undefined,
  skip_prk_steps: false,
  set_alpha_to_one: false,
  prediction_type: 'epsilon' as string,
  timestep_spacing: 'leading' as string,
  steps_offset: 0,
};

const PNDM_ORDER = 4;

/** diffusers' `_timesteps` of PNDM: ascending (the other schedulers build them descending). */
function ascendingTimesteps(spacing: string, T: number, N: number, offset: number): number[] {
  switch (spacing) {
    case 'linspace':
      return linspace(0, T - 1, N).map(roundHalfEven);
    case 'leading': {
      const ratio = Math.floor(T / N);
      return Array.from({ length: N }, (_, i) => i * ratio + offset);
    }
    case 'trailing':
      return arange(T, 0, -T / N)
        .map(roundHalfEven)
        .reverse()
        .map((t) => t - 1);
    default:
      throw new SchedulerConfigError(
        `PNDMScheduler: timestep_spacing "${spacing}" is not supported (use leading, trailing or linspace)`,
      );
  }
}

export class PNDMScheduler implements Scheduler {
  readonly className = 'PNDMScheduler' as const;
  readonly timestepDtype = 'int64' as const;
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly sigmas = undefined;
  readonly timesteps: readonly number[];
  readonly numInferenceSteps: number;
  private readonly config: typeof PNDM_DEFAULTS;
  private readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private readonly prkTimesteps: number[];
  private readonly stepRatio: number;
  // Running state of the multistep method.
  private counter = 0;
  private ets: Float32Array[] = [];
  private curSample: Float32Array | undefined;
  private curModelOutput: Float32Array | undefined;

  constructor(config: SchedulerConfig, numInferenceSteps: number) {
    const c = withDefaults(PNDM_DEFAULTS, config);
    this.config = c;
    const T = c.num_train_timesteps;
    checkSteps(this.className, numInferenceSteps, T);
    if (c.prediction_type !== 'epsilon' && c.prediction_type !== 'v_prediction') {
      throw new SchedulerConfigError(
        `${this.className}: prediction_type ${c.prediction_type} is not supported (epsilon or v_prediction)`,
      );
    }
    this.numInferenceSteps = numInferenceSteps;
    this.stepRatio = Math.floor(T / numInferenceSteps);
    this.alphasCumprod = buildAlphasCumprod(c);
    this.finalAlphaCumprod = c.set_alpha_to_one ? 1 : this.alphasCumprod[0];
    const ts = ascendingTimesteps(c.timestep_spacing, T, numInferenceSteps, c.steps_offset);
    let plms: number[];
    if (c.skip_prk_steps) {
      this.prkTimesteps = [];
      plms = [...ts.slice(0, -1), ...ts.slice(-2, -1), ...ts.slice(-1)].reverse();
    } else {
      // prk = last 4 timesteps, each followed by its half-step, then every entry doubled except the ends.
      const half = Math.floor(this.stepRatio / 2);
      const pairs = ts.slice(-PNDM_ORDER).flatMap((t) => [t, t + half]);
      const doubled = pairs.slice(0, -1).flatMap((t) => [t, t]);
      this.prkTimesteps = doubled.slice(1, -1).reverse();
      plms = ts.slice(0, -3).reverse();
    }
    this.timesteps = [...this.prkTimesteps, ...plms];
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array): StepResult {
    checkLengths(modelOutput, sample);
    if (this.counter < this.prkTimesteps.length && !this.config.skip_prk_steps) {
      return this.stepPrk(modelOutput, timestep, sample);
    }
    return this.stepPlms(modelOutput, timestep, sample);
  }

  /** Runge-Kutta warm-up: four model calls per step, combined 1/6, 1/3, 1/3, 1/6. */
  private stepPrk(modelOutput: Float32Array, timestep: number, sample: Float32Array): StepResult {
    const diffToPrev = this.counter % 2 ? 0 : Math.floor(this.stepRatio / 2);
    const prevTimestep = timestep - diffToPrev;
    const t = this.prkTimesteps[Math.floor(this.counter / 4) * 4];
    const n = sample.length;
    let output = modelOutput;
    const phase = this.counter % 4;
    if (phase === 0) {
      this.curModelOutput = scaled(modelOutput, 1 / 6);
      this.ets.push(modelOutput);
      this.curSample = sample;
    } else if (phase === 1 || phase === 2) {
      addScaled(this.curModelOutput ?? new Float32Array(n), modelOutput, 1 / 3);
    } else {
      const acc = this.curModelOutput ?? new Float32Array(n);
      output = new Float32Array(n);
      for (let k = 0; k < n; k++) output[k] = f32(acc[k] + f32((1 / 6) * modelOutput[k]));
      this.curModelOutput = undefined;
    }
    const base = this.curSample ?? sample;
    const prevSample = this.prevSample(base, t, prevTimestep, output);
    this.counter++;
    return { prevSample };
  }

  /** Linear multistep (Adams-Bashforth) on the stored ε, PLMS as in latent-diffusion. */
  private stepPlms(modelOutput: Float32Array, timestep: number, sample: Float32Array): StepResult {
    if (!this.config.skip_prk_steps && this.ets.length < 3) {
      throw new Error(`${this.className}: PLMS steps need the Runge-Kutta warm-up steps first`);
    }
    let t = timestep;
    let prevTimestep = timestep - this.stepRatio;
    if (this.counter !== 1) {
      this.ets = this.ets.slice(-3);
      this.ets.push(modelOutput);
    } else {
      // The repeated second timestep: redo the first step with the averaged ε.
      prevTimestep = timestep;
      t = timestep + this.stepRatio;
    }
    const e = this.ets;
    const len = e.length;
    const n = sample.length;
    let output: Float32Array;
    let base = sample;
    if (len === 1 && this.counter === 0) {
      output = modelOutput;
      this.curSample = sample;
    } else if (len === 1 && this.counter === 1) {
      output = new Float32Array(n);
      for (let k = 0; k < n; k++) output[k] = f32(f32(modelOutput[k] + e[0][k]) / 2);
      base = this.curSample ?? sample;
      this.curSample = undefined;
    } else {
      output = new Float32Array(n);
      const e1 = e[len - 1];
      const e2 = e[len - 2];
      if (len === 2) {
        for (let k = 0; k < n; k++) output[k] = f32(f32(f32(3 * e1[k]) - e2[k]) / 2);
      } else if (len === 3) {
        const e3 = e[len - 3];
        for (let k = 0; k < n; k++) {
          output[k] = f32(f32(f32(f32(23 * e1[k]) - f32(16 * e2[k])) + f32(5 * e3[k])) / 12);
        }
      } else {
        const e3 = e[len - 3];
        const e4 = e[len - 4];
        for (let k = 0; k < n; k++) {
          const sum = f32(
            f32(f32(f32(55 * e1[k]) - f32(59 * e2[k])) + f32(37 * e3[k])) - f32(9 * e4[k]),
          );
          output[k] = f32((1 / 24) * sum);
        }
      }
    }
    const prevSample = this.prevSample(base, t, prevTimestep, output);
    this.counter++;
    return { prevSample };
  }

  /** PNDM paper eq. (9): the transfer from x_t to x_{t−δ} given ε. */
  private prevSample(
    sample: Float32Array,
    timestep: number,
    prevTimestep: number,
    modelOutput: Float32Array,
  ): Float32Array {
    const a = this.alphasCumprod[timestep];
    if (a === undefined)
      throw new RangeError(`${this.className}: timestep ${timestep} is out of range`);
    const aPrev = prevTimestep >= 0 ? this.alphasCumprod[prevTimestep] : this.finalAlphaCumprod;
    const b = f32(1 - a);
    const bPrev = f32(1 - aPrev);
    const sampleCoeff = f32(Math.sqrt(f32(aPrev / a)));
    const denom = f32(f32(a * f32(Math.sqrt(bPrev))) + f32(Math.sqrt(f32(f32(a * b) * aPrev))));
    const diff = f32(aPrev - a);
    const vpred = this.config.prediction_type === 'v_prediction';
    const sa = f32(Math.sqrt(a));
    const sb = f32(Math.sqrt(b));
    const n = sample.length;
    const out = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const x = sample[k];
      const eps = vpred ? f32(f32(sa * modelOutput[k]) + f32(sb * x)) : modelOutput[k];
      out[k] = f32(f32(sampleCoeff * x) - f32(f32(diff * eps) / denom));
    }
    return out;
  }
}

function scaled(v: Float32Array, s: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let k = 0; k < v.length; k++) out[k] = s * v[k];
  return out;
}

function addScaled(acc: Float32Array, v: Float32Array, s: number): void {
  for (let k = 0; k < v.length; k++) acc[k] = acc[k] + f32(s * v[k]);
}
