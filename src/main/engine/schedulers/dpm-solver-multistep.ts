import { type SchedulerConfig, SchedulerConfigError, withDefaults } from './config';
import { linspace, roundHalfEven, arange } from './numeric';
import {
  buildAlphasCumprod,
  checkLengths,
  checkSteps,
  rejectThresholding,
  requireNoise,
} from './schedule-common';
import {
  exponentialSigmas,
  karrasSigmas,
  logSigmas,
  sigmaToT,
  sigmasAtTimesteps,
  trainingSigmas,
} from './sigmas';
import type { NoiseSource, Scheduler, StepResult } from './types';

// A module-local alias: V8 inlines Math.fround through it (an imported binding is 10× slower).
const f32 = Math.fround;

/**
 * DPMSolverMultistepScheduler (Lu et al. 2022, DPM-Solver / DPM-Solver++). The studio's
 * "dpm++2m" is algorithm_type dpmsolver++, solver_order 2, solver_type midpoint; "dpm++2m-karras"
 * adds use_karras_sigmas. Works on VP latents (init_noise_sigma 1, identity input scaling) with
 * α_t = 1/√(σ²+1), σ_t = σ·α_t, λ = ln α_t − ln σ_t.
 */
export const DPM_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear' as string,
  trained_betas: null as number[] | null | undefined,
  solver_order: 2,
  prediction_type: 'epsilon' as string,
  thresholding: false,
  algorithm_type: 'dpmsolver++' as string,
  solver_type: 'midpoint' as string,
  lower_order_final: true,
  euler_at_final: false,
  use_karras_sigmas: false as boolean | null | undefined,
  use_exponential_sigmas: false as boolean | null | undefined,
  use_beta_sigmas: false as boolean | null | undefined,
  use_lu_lambdas: false,
  use_flow_sigmas: false,
  final_sigmas_type: 'zero' as string,
  lambda_min_clipped: -Infinity,
  variance_type: null as string | null | undefined,
  timestep_spacing: 'linspace' as string,
  steps_offset: 0,
  rescale_betas_zero_snr: false,
};

const ALGORITHMS = ['dpmsolver++', 'sde-dpmsolver++', 'dpmsolver', 'sde-dpmsolver'];

interface AlphaSigma {
  alpha: number;
  sigma: number;
  lambda: number;
}

function alphaSigma(s: number): AlphaSigma {
  const alpha = f32(1 / f32(Math.sqrt(f32(f32(s * s) + 1))));
  const sigma = f32(s * alpha);
  // σ = 0 (the final step) gives λ = +∞, and the update formulas reduce to x₀ exactly.
  return { alpha, sigma, lambda: f32(f32(Math.log(alpha)) - f32(Math.log(sigma))) };
}

export class DPMSolverMultistepScheduler implements Scheduler {
  readonly className = 'DPMSolverMultistepScheduler' as const;
  readonly timestepDtype = 'int64' as const;
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly numInferenceSteps: number;
  private readonly config: typeof DPM_DEFAULTS;
  private readonly modelOutputs: (Float32Array | undefined)[];
  private lowerOrderNums = 0;
  private stepIndex: number | undefined;

  constructor(config: SchedulerConfig, numInferenceSteps: number) {
    const c = withDefaults(DPM_DEFAULTS, config);
    const T = c.num_train_timesteps;
    checkSteps(this.className, numInferenceSteps, T);
    rejectThresholding(this.className, c.thresholding);
    if (c.algorithm_type === 'deis') c.algorithm_type = 'dpmsolver++'; // as diffusers does
    if (!ALGORITHMS.includes(c.algorithm_type)) {
      throw new SchedulerConfigError(
        `${this.className}: algorithm_type ${c.algorithm_type} is not supported`,
      );
    }
    if (['logrho', 'bh1', 'bh2'].includes(c.solver_type)) c.solver_type = 'midpoint'; // diffusers too
    if (c.solver_type !== 'midpoint' && c.solver_type !== 'heun') {
      throw new SchedulerConfigError(
        `${this.className}: solver_type ${c.solver_type} is not supported`,
      );
    }
    if (!c.algorithm_type.endsWith('++') && c.final_sigmas_type === 'zero') {
      throw new SchedulerConfigError(
        `${this.className}: final_sigmas_type "zero" is not supported for algorithm_type ${c.algorithm_type}; use "sigma_min"`,
      );
    }
    if (c.use_beta_sigmas || c.use_flow_sigmas) {
      throw new SchedulerConfigError(
        `${this.className}: use_beta_sigmas / use_flow_sigmas are not supported`,
      );
    }
    if (
      [c.use_karras_sigmas, c.use_exponential_sigmas, c.use_lu_lambdas].filter(Boolean).length > 1
    ) {
      throw new SchedulerConfigError(
        `${this.className}: only one of use_karras_sigmas / use_exponential_sigmas / use_lu_lambdas can be set`,
      );
    }
    if (c.variance_type === 'learned' || c.variance_type === 'learned_range') {
      throw new SchedulerConfigError(
        `${this.className}: learned variance models are not supported`,
      );
    }
    if (!['epsilon', 'v_prediction', 'sample'].includes(c.prediction_type)) {
      throw new SchedulerConfigError(
        `${this.className}: unknown prediction_type ${c.prediction_type}`,
      );
    }
    this.config = c;
    const cumprod = buildAlphasCumprod(c, true);
    const table = trainingSigmas(cumprod);
    const logTable = logSigmas(table);

    // Clip the smallest λ (critical for the cosine schedule): last_timestep = T − #(λ < clip).
    let clipped = 0;
    for (let t = T - 1; t >= 0; t--) {
      const a = cumprod[t];
      const lambda = f32(
        f32(Math.log(f32(Math.sqrt(a)))) - f32(Math.log(f32(Math.sqrt(f32(1 - a))))),
      );
      if (lambda < c.lambda_min_clipped) clipped++;
      else break;
    }
    const lastTimestep = T - clipped;
    const N = numInferenceSteps;
    let timesteps: number[];
    switch (c.timestep_spacing) {
      case 'linspace':
        timesteps = linspace(0, lastTimestep - 1, N + 1)
          .map(roundHalfEven)
          .reverse()
          .slice(0, -1);
        break;
      case 'leading': {
        const ratio = Math.floor(lastTimestep / (N + 1));
        timesteps = [];
        for (let i = N; i >= 1; i--) timesteps.push(i * ratio + c.steps_offset);
        break;
      }
      case 'trailing':
        timesteps = arange(lastTimestep, 0, -T / N).map((t) => roundHalfEven(t) - 1);
        break;
      default:
        throw new SchedulerConfigError(
          `${this.className}: timestep_spacing "${c.timestep_spacing}" is not supported (use leading, trailing or linspace)`,
        );
    }

    let sigmas: number[];
    // Karras/exponential/Lu re-space σ between the training extremes and map back to timesteps:
    // rounded, except for the cosine schedule (and exponential), where torch's int64 cast truncates.
    const respaced = (s: number[], round: boolean): number[] =>
      s.map((x) => {
        const t = sigmaToT(x, logTable);
        return round && c.beta_schedule !== 'squaredcos_cap_v2' ? roundHalfEven(t) : Math.trunc(t);
      });
    const sigmaMin = table[0];
    const sigmaMax = table[T - 1];
    if (c.use_karras_sigmas) {
      sigmas = karrasSigmas(sigmaMin, sigmaMax, N);
      timesteps = respaced(sigmas, true);
    } else if (c.use_lu_lambdas) {
      const lambdas = linspace(logTable[T - 1], logTable[0], N);
      sigmas = lambdas.map(Math.exp);
      timesteps = respaced(sigmas, true);
    } else if (c.use_exponential_sigmas) {
      sigmas = exponentialSigmas(sigmaMin, sigmaMax, N);
      timesteps = respaced(sigmas, false);
    } else {
      sigmas = sigmasAtTimesteps(timesteps, table);
    }
    const sigmaLast =
      c.final_sigmas_type === 'sigma_min' ? table[0] : c.final_sigmas_type === 'zero' ? 0 : NaN;
    if (Number.isNaN(sigmaLast)) {
      throw new SchedulerConfigError(
        `${this.className}: unknown final_sigmas_type ${c.final_sigmas_type}`,
      );
    }
    this.sigmas = [...sigmas, sigmaLast].map(f32);
    this.timesteps = timesteps;
    this.numInferenceSteps = timesteps.length;
    this.modelOutputs = new Array<Float32Array | undefined>(c.solver_order).fill(undefined);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  /** diffusers index_for_timestep of this class: unknown timesteps map to the last step. */
  private initStepIndex(timestep: number): number {
    const hits: number[] = [];
    this.timesteps.forEach((t, i) => {
      if (t === timestep) hits.push(i);
    });
    if (hits.length === 0) return this.timesteps.length - 1;
    return hits.length > 1 ? hits[1] : hits[0];
  }

  step(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
    noise?: NoiseSource,
  ): StepResult {
    checkLengths(modelOutput, sample);
    const c = this.config;
    this.stepIndex ??= this.initStepIndex(timestep);
    const i = this.stepIndex;
    const len = this.timesteps.length;
    if (i >= len) throw new RangeError(`${this.className}: the schedule is finished`);
    const lowerOrderFinal =
      i === len - 1 &&
      (c.euler_at_final || (c.lower_order_final && len < 15) || c.final_sigmas_type === 'zero');
    const lowerOrderSecond = i === len - 2 && c.lower_order_final && len < 15;

    const converted = this.convertModelOutput(modelOutput, sample, i);
    for (let k = 0; k < c.solver_order - 1; k++) this.modelOutputs[k] = this.modelOutputs[k + 1];
    this.modelOutputs[c.solver_order - 1] = converted;

    const z = c.algorithm_type.startsWith('sde-')
      ? requireNoise(noise, `${this.className} (${c.algorithm_type})`, sample.length)
      : undefined;
    let prevSample: Float32Array;
    if (c.solver_order === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) {
      prevSample = this.firstOrderUpdate(converted, sample, i, z);
    } else if (c.solver_order === 2 || this.lowerOrderNums < 2 || lowerOrderSecond) {
      prevSample = this.secondOrderUpdate(sample, i, z);
    } else {
      prevSample = this.thirdOrderUpdate(sample, i, z);
    }
    if (this.lowerOrderNums < c.solver_order) this.lowerOrderNums++;
    this.stepIndex = i + 1;
    const dataPrediction = c.algorithm_type.endsWith('++');
    return dataPrediction ? { prevSample, denoised: converted } : { prevSample };
  }

  /** DPM-Solver++ integrates the data prediction x₀; DPM-Solver the noise prediction ε. */
  private convertModelOutput(m: Float32Array, x: Float32Array, i: number): Float32Array {
    const { alpha, sigma } = alphaSigma(this.sigmas[i]);
    const type = this.config.prediction_type;
    const out = new Float32Array(m.length);
    if (this.config.algorithm_type.endsWith('++')) {
      for (let k = 0; k < m.length; k++) {
        out[k] =
          type === 'epsilon'
            ? f32(f32(x[k] - f32(sigma * m[k])) / alpha)
            : type === 'v_prediction'
              ? f32(f32(alpha * x[k]) - f32(sigma * m[k]))
              : m[k];
      }
    } else {
      for (let k = 0; k < m.length; k++) {
        out[k] =
          type === 'epsilon'
            ? m[k]
            : type === 'v_prediction'
              ? f32(f32(alpha * m[k]) + f32(sigma * x[k]))
              : f32(f32(x[k] - f32(alpha * m[k])) / sigma);
      }
    }
    return out;
  }

  private firstOrderUpdate(
    m0: Float32Array,
    x: Float32Array,
    i: number,
    z: Float32Array | undefined,
  ): Float32Array {
    const t = alphaSigma(this.sigmas[i + 1]);
    const s = alphaSigma(this.sigmas[i]);
    const h = f32(t.lambda - s.lambda);
    const algo = this.config.algorithm_type;
    let cx: number;
    let cm: number;
    let cz = 0;
    if (algo === 'dpmsolver++') {
      cx = f32(t.sigma / s.sigma);
      cm = -f32(t.alpha * f32(f32(Math.exp(-h)) - 1));
    } else if (algo === 'dpmsolver') {
      cx = f32(t.alpha / s.alpha);
      cm = -f32(t.sigma * f32(f32(Math.exp(h)) - 1));
    } else if (algo === 'sde-dpmsolver++') {
      cx = f32(f32(t.sigma / s.sigma) * f32(Math.exp(-h)));
      cm = f32(t.alpha * f32(1 - f32(Math.exp(-2 * h))));
      cz = f32(t.sigma * f32(Math.sqrt(f32(1 - f32(Math.exp(-2 * h))))));
    } else {
      cx = f32(t.alpha / s.alpha);
      cm = -f32(2 * f32(t.sigma * f32(f32(Math.exp(h)) - 1)));
      cz = f32(t.sigma * f32(Math.sqrt(f32(f32(Math.exp(2 * h)) - 1))));
    }
    const out = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) {
      let v = f32(f32(cx * x[k]) + f32(cm * m0[k]));
      if (z) v = f32(v + f32(cz * z[k]));
      out[k] = v;
    }
    return out;
  }

  private secondOrderUpdate(x: Float32Array, i: number, z: Float32Array | undefined): Float32Array {
    const order = this.config.solver_order;
    const m0 = this.modelOutputs[order - 1] as Float32Array;
    const m1 = this.modelOutputs[order - 2] as Float32Array;
    const t = alphaSigma(this.sigmas[i + 1]);
    const s0 = alphaSigma(this.sigmas[i]);
    const s1 = alphaSigma(this.sigmas[i - 1]);
    const h = f32(t.lambda - s0.lambda);
    const h0 = f32(s0.lambda - s1.lambda);
    const r0 = f32(h0 / h);
    const invR0 = f32(1 / r0);
    const algo = this.config.algorithm_type;
    const midpoint = this.config.solver_type === 'midpoint';
    const expNegH = f32(Math.exp(-h));
    const expH = f32(Math.exp(h));
    let cx: number;
    let c0: number; // coefficient of D0 = m0
    let c1: number; // coefficient of D1 = (m0 − m1)/r0
    let cz = 0;
    if (algo === 'dpmsolver++') {
      cx = f32(t.sigma / s0.sigma);
      c0 = -f32(t.alpha * f32(expNegH - 1));
      c1 = midpoint
        ? -f32(0.5 * f32(t.alpha * f32(expNegH - 1)))
        : f32(t.alpha * f32(f32(f32(expNegH - 1) / h) + 1));
    } else if (algo === 'dpmsolver') {
      cx = f32(t.alpha / s0.alpha);
      c0 = -f32(t.sigma * f32(expH - 1));
      c1 = midpoint
        ? -f32(0.5 * f32(t.sigma * f32(expH - 1)))
        : -f32(t.sigma * f32(f32(f32(expH - 1) / h) - 1));
    } else if (algo === 'sde-dpmsolver++') {
      const e2 = f32(Math.exp(-2 * h));
      cx = f32(f32(t.sigma / s0.sigma) * expNegH);
      c0 = f32(t.alpha * f32(1 - e2));
      c1 = midpoint
        ? f32(0.5 * f32(t.alpha * f32(1 - e2)))
        : f32(t.alpha * f32(f32(f32(1 - e2) / f32(-2 * h)) + 1));
      cz = f32(t.sigma * f32(Math.sqrt(f32(1 - e2))));
    } else {
      cx = f32(t.alpha / s0.alpha);
      c0 = -f32(2 * f32(t.sigma * f32(expH - 1)));
      c1 = midpoint
        ? -f32(t.sigma * f32(expH - 1))
        : -f32(2 * f32(t.sigma * f32(f32(f32(expH - 1) / h) - 1)));
      cz = f32(t.sigma * f32(Math.sqrt(f32(f32(Math.exp(2 * h)) - 1))));
    }
    const out = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) {
      const d1 = f32(invR0 * f32(m0[k] - m1[k]));
      let v = f32(f32(f32(cx * x[k]) + f32(c0 * m0[k])) + f32(c1 * d1));
      if (z) v = f32(v + f32(cz * z[k]));
      out[k] = v;
    }
    return out;
  }

  private thirdOrderUpdate(x: Float32Array, i: number, z: Float32Array | undefined): Float32Array {
    const m0 = this.modelOutputs[2] as Float32Array;
    const m1 = this.modelOutputs[1] as Float32Array;
    const m2 = this.modelOutputs[0] as Float32Array;
    const t = alphaSigma(this.sigmas[i + 1]);
    const s0 = alphaSigma(this.sigmas[i]);
    const s1 = alphaSigma(this.sigmas[i - 1]);
    const s2 = alphaSigma(this.sigmas[i - 2]);
    const h = f32(t.lambda - s0.lambda);
    const h0 = f32(s0.lambda - s1.lambda);
    const h1 = f32(s1.lambda - s2.lambda);
    const r0 = f32(h0 / h);
    const r1 = f32(h1 / h);
    const algo = this.config.algorithm_type;
    let cx: number;
    let c0: number;
    let c1: number;
    let c2: number;
    let cz = 0;
    const expNegH = f32(Math.exp(-h));
    const expH = f32(Math.exp(h));
    if (algo === 'dpmsolver++') {
      cx = f32(t.sigma / s0.sigma);
      c0 = -f32(t.alpha * f32(expNegH - 1));
      c1 = f32(t.alpha * f32(f32(f32(expNegH - 1) / h) + 1));
      c2 = -f32(t.alpha * f32(f32(f32(f32(expNegH - 1) + h) / f32(h * h)) - 0.5));
    } else if (algo === 'dpmsolver') {
      cx = f32(t.alpha / s0.alpha);
      c0 = -f32(t.sigma * f32(expH - 1));
      c1 = -f32(t.sigma * f32(f32(f32(expH - 1) / h) - 1));
      c2 = -f32(t.sigma * f32(f32(f32(f32(expH - 1) - h) / f32(h * h)) - 0.5));
    } else if (algo === 'sde-dpmsolver++') {
      const e2 = f32(Math.exp(-2 * h));
      cx = f32(f32(t.sigma / s0.sigma) * expNegH);
      c0 = f32(t.alpha * f32(1 - e2));
      c1 = f32(t.alpha * f32(f32(f32(1 - e2) / f32(-2 * h)) + 1));
      const twoH = f32(2 * h);
      c2 = f32(t.alpha * f32(f32(f32(f32(1 - e2) - twoH) / f32(twoH * twoH)) - 0.5));
      cz = f32(t.sigma * f32(Math.sqrt(f32(1 - e2))));
    } else {
      throw new Error(
        `${this.className}: third-order sde-dpmsolver is not implemented (diffusers neither)`,
      );
    }
    const out = new Float32Array(x.length);
    const invR0 = f32(1 / r0);
    const invR1 = f32(1 / r1);
    const r01 = f32(r0 + r1);
    const w = f32(r0 / r01);
    const invR01 = f32(1 / r01);
    for (let k = 0; k < x.length; k++) {
      const d10 = f32(invR0 * f32(m0[k] - m1[k]));
      const d11 = f32(invR1 * f32(m1[k] - m2[k]));
      const d1 = f32(d10 + f32(w * f32(d10 - d11)));
      const d2 = f32(invR01 * f32(d10 - d11));
      let v = f32(f32(f32(f32(cx * x[k]) + f32(c0 * m0[k])) + f32(c1 * d1)) + f32(c2 * d2));
      if (z) v = f32(v + f32(cz * z[k]));
      out[k] = v;
    }
    return out;
  }
}
