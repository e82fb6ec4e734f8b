import type { ModelSummary } from '../../shared/schemas';

export type Family = Exclude<ModelSummary['family'], 'unknown'>;

/** Sampling defaults per family: what the reference pipelines use when a user gives nothing. */
export const FAMILY_DEFAULTS: Record<
  Family,
  { steps: number; guidance: number; scheduler?: string }
> = {
  sd1: { steps: 25, guidance: 7.5 },
  sd2: { steps: 25, guidance: 7.5 },
  'sd-turbo': { steps: 1, guidance: 0, scheduler: 'euler-a' },
  lcm: { steps: 4, guidance: 8.5, scheduler: 'lcm' },
  sdxl: { steps: 30, guidance: 5 },
};
