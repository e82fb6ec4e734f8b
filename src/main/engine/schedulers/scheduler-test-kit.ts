import type { NoiseSource, Scheduler } from './types';

/**
 * Test support shared by the scheduler unit tests: the golden README's fake model and a
 * denoising loop, so tests can compare whole trajectories. Not used by the engine.
 */

export const f32 = Math.fround;

/** base[i] = sin(0.1·i), the golden experiment's starting tensor. */
export function baseTensor(n = 256): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(0.1 * i));
}

/** The golden fake ε-model: 0.3·x + 0.01·t/1000 in float32. */
export function fakeEps(x: Float32Array, t: number): Float32Array {
  const shift = f32(0.01 * f32(t / 1000));
  return x.map((v) => f32(f32(0.3 * v) + shift));
}

/** Replayed noise for step j: cos(0.07·i + 0.9·j). */
export function replayNoise(j: number): NoiseSource {
  return (length) => Float32Array.from({ length }, (_, i) => Math.cos(0.07 * i + 0.9 * j));
}

export type ModelFn = (
  input: Float32Array,
  t: number,
  sample: Float32Array,
  j: number,
) => Float32Array;

/** Run the pipeline loop; returns the final latents and the last step's denoised estimate. */
export function runTrajectory(
  scheduler: Scheduler,
  model: ModelFn = (input, t) => fakeEps(input, t),
  initial: Float32Array = baseTensor(),
): { latents: Float32Array; denoised: Float32Array | undefined } {
  let latents: Float32Array = initial.map((v) => f32(v * scheduler.initNoiseSigma));
  let denoised: Float32Array | undefined;
  scheduler.timesteps.forEach((t, j) => {
    const input = scheduler.scaleModelInput(latents, t);
    const out = scheduler.step(model(input, t, latents, j), t, latents, replayNoise(j));
    latents = out.prevSample;
    denoised = out.denoised;
  });
  return { latents, denoised };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return a.length === b.length ? m : Infinity;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** SD 1.5's scheduler_config.json, the base config of the golden cases. */
export const SD15_CONFIG = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  steps_offset: 1,
  skip_prk_steps: true,
  set_alpha_to_one: false,
  clip_sample: false,
  prediction_type: 'epsilon',
  trained_betas: null,
} as const;

/**
 * The v a v-prediction model would output for the same x₀ as ε: with x_in the (VP-scaled) model
 * input and ᾱ its signal level, x₀ = (x_in − √(1−ᾱ)ε)/√ᾱ and v = √ᾱ·ε − √(1−ᾱ)·x₀.
 */
export function vFromEps(eps: Float32Array, xIn: Float32Array, alphaBar: number): Float32Array {
  const sa = Math.sqrt(alphaBar);
  const sb = Math.sqrt(1 - alphaBar);
  return eps.map((e, i) => sa * e - sb * ((xIn[i] - sb * e) / sa));
}
