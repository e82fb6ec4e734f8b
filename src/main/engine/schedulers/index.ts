import { parseSchedulerConfig, type SchedulerConfig, SchedulerConfigError } from './config';
import { DDIMScheduler } from './ddim';
import { DDPMScheduler } from './ddpm';
import { DPMSolverMultistepScheduler } from './dpm-solver-multistep';
import { EulerDiscreteScheduler } from './euler';
import { EulerAncestralDiscreteScheduler } from './euler-ancestral';
import { LCMScheduler } from './lcm';
import { PNDMScheduler } from './pndm';
import type { Scheduler, SchedulerClassName, SchedulerOptions } from './types';

export type {
  NoiseSource,
  Scheduler,
  SchedulerClassName,
  SchedulerOptions,
  StepResult,
} from './types';
export { parseSchedulerConfig, SchedulerConfigError, SchedulerConfigSchema } from './config';
export type { SchedulerConfig } from './config';

/** The studio's scheduler names (CLI `--scheduler`, UI), each a diffusers class plus overrides. */
export const SCHEDULER_NAMES = [
  'euler',
  'euler-a',
  'ddim',
  'pndm',
  'dpm++2m',
  'dpm++2m-karras',
  'lcm',
  'ddpm',
] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

interface NamedScheduler {
  className: SchedulerClassName;
  /** Config keys the name pins, whatever the model's scheduler_config.json says. */
  overrides: SchedulerConfig;
}

const DPM_2M: SchedulerConfig = {
  algorithm_type: 'dpmsolver++',
  solver_order: 2,
  solver_type: 'midpoint',
  use_exponential_sigmas: false,
  use_lu_lambdas: false,
};

const NAMED: Record<SchedulerName, NamedScheduler> = {
  euler: { className: 'EulerDiscreteScheduler', overrides: {} },
  'euler-a': { className: 'EulerAncestralDiscreteScheduler', overrides: {} },
  ddim: { className: 'DDIMScheduler', overrides: {} },
  pndm: { className: 'PNDMScheduler', overrides: {} },
  'dpm++2m': {
    className: 'DPMSolverMultistepScheduler',
    overrides: { ...DPM_2M, use_karras_sigmas: false },
  },
  'dpm++2m-karras': {
    className: 'DPMSolverMultistepScheduler',
    overrides: { ...DPM_2M, use_karras_sigmas: true },
  },
  lcm: { className: 'LCMScheduler', overrides: {} },
  ddpm: { className: 'DDPMScheduler', overrides: {} },
};

const CONSTRUCTORS: Record<
  SchedulerClassName,
  (config: SchedulerConfig, steps: number, options: SchedulerOptions) => Scheduler
> = {
  EulerDiscreteScheduler: (c, n) => new EulerDiscreteScheduler(c, n),
  EulerAncestralDiscreteScheduler: (c, n) => new EulerAncestralDiscreteScheduler(c, n),
  DDIMScheduler: (c, n, o) => new DDIMScheduler(c, n, o),
  PNDMScheduler: (c, n) => new PNDMScheduler(c, n),
  DPMSolverMultistepScheduler: (c, n) => new DPMSolverMultistepScheduler(c, n),
  LCMScheduler: (c, n) => new LCMScheduler(c, n),
  DDPMScheduler: (c, n) => new DDPMScheduler(c, n),
};

export const SCHEDULER_CLASS_NAMES = Object.keys(CONSTRUCTORS) as SchedulerClassName[];

/** Resolve a studio name or a diffusers class name to the class and its pinned config keys. */
export function resolveSchedulerName(nameOrClass: string): NamedScheduler {
  if (nameOrClass in NAMED) return NAMED[nameOrClass as SchedulerName];
  if (nameOrClass in CONSTRUCTORS) {
    return { className: nameOrClass as SchedulerClassName, overrides: {} };
  }
  throw new SchedulerConfigError(
    `unknown scheduler "${nameOrClass}": use one of ${SCHEDULER_NAMES.join(', ')} or a diffusers class (${SCHEDULER_CLASS_NAMES.join(', ')})`,
  );
}

/**
 * Build a scheduler for one run, like diffusers' `Class.from_config(config)` followed by
 * `set_timesteps(numInferenceSteps)`. `config` is a model's scheduler_config.json (any diffusers
 * class's: keys the chosen class does not take are ignored); it is validated here.
 */
export function createScheduler(
  nameOrClass: string,
  config: unknown,
  numInferenceSteps: number,
  options: SchedulerOptions = {},
): Scheduler {
  const { className, overrides } = resolveSchedulerName(nameOrClass);
  if (options.timesteps !== undefined && className !== 'DDIMScheduler') {
    throw new SchedulerConfigError(
      `${className} does not take an explicit timesteps list; use ddim, or drop schedulerOverrides.timesteps`,
    );
  }
  const parsed = { ...parseSchedulerConfig(config), ...overrides };
  return CONSTRUCTORS[className](parsed, numInferenceSteps, options);
}
