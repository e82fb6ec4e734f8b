import { alphasCumprod, makeBetas, rescaleZeroTerminalSnr, type BetaConfig } from './betas';
import { SchedulerConfigError } from './config';
import type { NoiseSource } from './types';

/** The noise schedule every scheduler starts from: betas → (rescaled) → alphas_cumprod. */
export function buildAlphasCumprod(
  config: BetaConfig & { rescale_betas_zero_snr?: boolean },
  // Euler/Euler a/DPM++ patch the last ᾱ to 2^-24 after a zero-SNR rescale so σ_max is finite.
  patchZeroTerminal = false,
): Float32Array {
  let betas = makeBetas(config);
  if (config.rescale_betas_zero_snr) betas = rescaleZeroTerminalSnr(betas);
  const cumprod = alphasCumprod(betas);
  if (config.rescale_betas_zero_snr && patchZeroTerminal) cumprod[cumprod.length - 1] = 2 ** -24;
  return cumprod;
}

export function checkSteps(className: string, steps: number, trainSteps: number): void {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new SchedulerConfigError(
      `${className}: num_inference_steps must be a positive integer, got ${steps}`,
    );
  }
  if (steps > trainSteps) {
    throw new SchedulerConfigError(
      `${className}: num_inference_steps ${steps} cannot exceed num_train_timesteps ${trainSteps}`,
    );
  }
}

/**
 * diffusers index_for_timestep: the position of `timestep` in the schedule, taking the second
 * match when it appears twice (so a run started mid-schedule does not skip a sigma).
 */
export function indexForTimestep(timesteps: readonly number[], timestep: number): number {
  let first = -1;
  for (let i = 0; i < timesteps.length; i++) {
    if (timesteps[i] === timestep) {
      if (first >= 0) return i;
      first = i;
    }
  }
  if (first < 0) {
    throw new RangeError(
      `timestep ${timestep} is not one of this scheduler's timesteps; pass the values of scheduler.timesteps unchanged`,
    );
  }
  return first;
}

/**
 * diffusers' `previous_timestep` on an explicit schedule (DDPM always, DDIM with custom timesteps):
 * the next entry, −1 after the last.
 */
export function nextListedTimestep(
  className: string,
  timesteps: readonly number[],
  timestep: number,
): number {
  const index = timesteps.indexOf(timestep);
  if (index < 0) throw new RangeError(`${className}: timestep ${timestep} is not in the schedule`);
  return index === timesteps.length - 1 ? -1 : timesteps[index + 1];
}

export function requireNoise(
  noise: NoiseSource | undefined,
  who: string,
  length: number,
): Float32Array {
  if (!noise) throw new Error(`${who} is stochastic: step() needs a noise source`);
  const n = noise(length);
  if (n.length !== length)
    throw new RangeError(`${who}: noise source returned ${n.length} values, expected ${length}`);
  return n;
}

export function checkLengths(modelOutput: Float32Array, sample: Float32Array): void {
  if (modelOutput.length !== sample.length) {
    throw new RangeError(
      `model output has ${modelOutput.length} values but the sample has ${sample.length}`,
    );
  }
}

export function rejectThresholding(className: string, thresholding: boolean): void {
  if (thresholding) {
    throw new SchedulerConfigError(
      `${className}: thresholding (dynamic thresholding for pixel-space models) is not supported`,
    );
  }
}
