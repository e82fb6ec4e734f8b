/**
 * The small diffusers-style interface every scheduler implements. A scheduler is built for one
 * run (config + number of steps) and keeps its multistep state; make a new one per image batch.
 *
 * Loop, as the diffusers pipelines do it:
 *   latents = noise * scheduler.initNoiseSigma
 *   for (const t of scheduler.timesteps) {
 *     const input = scheduler.scaleModelInput(latents, t);
 *     const eps = unet(input, t);            // round t first if the UNet takes int64 timesteps
 *     latents = scheduler.step(eps, t, latents, noise).prevSample;
 *   }
 */

/** Standard normal noise of the given length, for the stochastic samplers. */
export type NoiseSource = (length: number) => Float32Array;

export interface StepResult {
  /** The latents for the next timestep (x_{t-1}). */
  prevSample: Float32Array;
  /** The model's estimate of the clean latents (x_0), where the scheduler computes one. */
  denoised?: Float32Array;
}

export type SchedulerClassName =
  | 'EulerDiscreteScheduler'
  | 'EulerAncestralDiscreteScheduler'
  | 'DDIMScheduler'
  | 'PNDMScheduler'
  | 'DPMSolverMultistepScheduler'
  | 'LCMScheduler'
  | 'DDPMScheduler';

export interface Scheduler {
  /** The diffusers class this scheduler reproduces. */
  readonly className: SchedulerClassName;
  /**
   * The values fed to the UNet, in order (as diffusers' `scheduler.timesteps`). Fractional for
   * Euler-family schedules; pass them back unchanged to scaleModelInput/step.
   */
  readonly timesteps: readonly number[];
  /** Whether diffusers keeps timesteps as float32 (Euler family) or int64. */
  readonly timestepDtype: 'float32' | 'int64';
  /** diffusers' `scheduler.sigmas` (timesteps + 1 values, float32) where the class has them. */
  readonly sigmas: readonly number[] | undefined;
  /** Multiply unit-variance noise by this to get the initial latents. */
  readonly initNoiseSigma: number;
  /** diffusers' `order` class attribute (1 for all schedulers here). */
  readonly order: number;
  readonly numInferenceSteps: number;
  /** Scale the latents before the UNet call; may return `sample` itself when it is the identity. */
  scaleModelInput(sample: Float32Array, timestep: number): Float32Array;
  /** Advance one timestep. `noise` is required by stochastic schedulers (euler-a, ddpm, lcm). */
  step(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
    noise?: NoiseSource,
  ): StepResult;
}

/** Per-call options of some diffusers `step()` methods, fixed for a run. */
export interface SchedulerOptions {
  /** DDIM η: 0 = deterministic DDIM, 1 = DDPM-like; needs a noise source when > 0. */
  eta?: number;
  /** DDIM: re-derive ε from the clipped x₀. */
  useClippedModelOutput?: boolean;
  /**
   * DDIM: an explicit schedule (diffusers' `set_timesteps(timesteps=…)`), strictly descending, one
   * per step; each step goes to the next listed timestep, the last to the final alpha, as diffusers'
   * `previous_timestep` does for custom timesteps.
   */
  timesteps?: readonly number[];
}
