import type { SchedulerOverrides } from './schemas';

/**
 * Scheduler overrides in words, one part per key ("steps_offset 86", "timesteps 961, 921, …, 81"),
 * for the LoRA picker, a profile's description and generate's warning alike.
 */
export function describeSchedulerOverrides(overrides: SchedulerOverrides): string[] {
  return Object.entries(overrides).map(([key, value]) =>
    Array.isArray(value) ? `${key} ${value.join(', ')}` : `${key} ${String(value)}`,
  );
}
