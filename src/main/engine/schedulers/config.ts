import { z } from 'zod';

/**
 * A diffusers scheduler config (`scheduler/scheduler_config.json`, or a golden file's
 * `full_config`). Every key is optional: each scheduler applies its own class's __init__
 * defaults, and keys a class does not take are ignored, as `from_config` does.
 */

/** Python's json writes -inf as `-Infinity`; the golden files write it as the string "-inf". */
const Extended = z
  .union([z.number(), z.enum(['-inf', 'inf', '-Infinity', 'Infinity'])])
  .transform((v) => (typeof v === 'number' ? v : v.startsWith('-') ? -Infinity : Infinity));

export const SchedulerConfigSchema = z.object({
  num_train_timesteps: z.number().int().min(2).optional(),
  beta_start: z.number().positive().optional(),
  beta_end: z.number().positive().optional(),
  beta_schedule: z.enum(['linear', 'scaled_linear', 'squaredcos_cap_v2']).optional(),
  trained_betas: z.array(z.number().min(0).max(1)).nullish(),
  prediction_type: z.enum(['epsilon', 'v_prediction', 'sample']).optional(),
  timestep_spacing: z.enum(['leading', 'trailing', 'linspace']).optional(),
  steps_offset: z.number().int().nonnegative().optional(),
  rescale_betas_zero_snr: z.boolean().optional(),
  // DDIM / PNDM / LCM / DDPM
  set_alpha_to_one: z.boolean().optional(),
  skip_prk_steps: z.boolean().optional(),
  clip_sample: z.boolean().optional(),
  clip_sample_range: z.number().positive().optional(),
  thresholding: z.boolean().optional(),
  variance_type: z.string().nullish(),
  // Euler family
  interpolation_type: z.enum(['linear', 'log_linear']).optional(),
  use_karras_sigmas: z.boolean().nullish(),
  use_exponential_sigmas: z.boolean().nullish(),
  use_beta_sigmas: z.boolean().nullish(),
  sigma_min: z.number().positive().nullish(),
  sigma_max: z.number().positive().nullish(),
  timestep_type: z.enum(['discrete', 'continuous']).optional(),
  final_sigmas_type: z.enum(['zero', 'sigma_min']).optional(),
  // DPM-Solver
  solver_order: z.number().int().min(1).max(3).optional(),
  algorithm_type: z
    .enum(['dpmsolver++', 'sde-dpmsolver++', 'dpmsolver', 'sde-dpmsolver', 'deis'])
    .optional(),
  solver_type: z.enum(['midpoint', 'heun', 'logrho', 'bh1', 'bh2']).optional(),
  lower_order_final: z.boolean().optional(),
  euler_at_final: z.boolean().optional(),
  use_lu_lambdas: z.boolean().optional(),
  use_flow_sigmas: z.boolean().optional(),
  lambda_min_clipped: Extended.optional(),
  // LCM
  original_inference_steps: z.number().int().positive().optional(),
  timestep_scaling: z.number().positive().optional(),
});

export type SchedulerConfig = z.infer<typeof SchedulerConfigSchema>;

export class SchedulerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchedulerConfigError';
  }
}

/** Validate a raw config object; errors name each bad key. Unknown keys are dropped. */
export function parseSchedulerConfig(raw: unknown): SchedulerConfig {
  const parsed = SchedulerConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(config)'}: ${i.message}`)
      .join('; ');
    throw new SchedulerConfigError(`invalid scheduler config: ${problems}`);
  }
  return parsed.data;
}

/** Fill a class's defaults under the given config, like diffusers' register_to_config. */
export function withDefaults<T extends Record<string, unknown>>(
  defaults: T,
  config: SchedulerConfig,
): T {
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const key of Object.keys(defaults)) {
    const value = (config as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out as T;
}
