import * as ort from 'onnxruntime-node';
import type { ExecutionProvider } from '../../shared/schemas';

/**
 * The session-level knobs the optimization wizard turns. Kept as plain data so a recipe can be
 * stored, compared and hashed.
 */
export interface RunConfig {
  /** Tried in order; one that fails to load is reported and the next is tried. */
  providers: ExecutionProvider[];
  intraOpThreads: number;
  interOpThreads: number;
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  enableCpuMemArena: boolean;
  enableMemPattern: boolean;
  /** `resident`: sessions stay loaded; `sequential`: load, run, release each component. */
  residency: 'resident' | 'sequential';
  /** Decode the VAE in overlapping tiles (bounded memory for large images). */
  vaeTiling: boolean;
  /** Decode one image of a batch at a time. */
  vaeSlicing: boolean;
  enableProfiling: boolean;
  /** Folder for ORT's JSON traces when profiling (one `<component>_<time>.json` per session). */
  profileDir?: string;
  /** Save ORT's optimized graph once and load it directly afterwards (shorter session creation). */
  optimizedModelCache: boolean;
  /**
   * ORT's default: idle intra-/inter-op threads spin-wait for the next piece of work. False makes
   * them sleep (`session.intra_op.allow_spinning` = 0): on a machine whose cores are shared (other
   * programs, other sessions' pools, the UI) spinning threads take CPU from the one doing the work.
   */
  allowSpinning: boolean;
  /**
   * ORT's own default, every session spinning. False (the studio's default): only the sessions a
   * pipeline calls in a loop (the UNet) spin; the ones it calls once per image (text encoders, VAE)
   * sleep after their run. Their spinning, ~1 core for 50-70 ms after each run on a 2-core
   * machine, took the CPU from the stage after them: the UNet's first steps ran 20-40% slower and
   * the VAE after a spinning UNet pool ~40% slower (docs/benchmarks.md, session 6).
   */
  spinEverySession: boolean;
}

export const DEFAULT_RUN_CONFIG: RunConfig = {
  providers: ['cpu'],
  intraOpThreads: 0,
  interOpThreads: 0,
  graphOptimizationLevel: 'all',
  enableCpuMemArena: true,
  enableMemPattern: true,
  residency: 'resident',
  vaeTiling: false,
  vaeSlicing: false,
  enableProfiling: false,
  optimizedModelCache: false,
  allowSpinning: true,
  spinEverySession: false,
};

/** Components a pipeline calls once per step: the only ones whose idle threads spin by default. */
const LOOPED_COMPONENTS: ReadonlySet<string> = new Set(['unet']);

/** Whether this component's idle pool threads spin-wait under `config`. */
export function spins(config: RunConfig, component?: string): boolean {
  if (!config.allowSpinning) return false;
  return config.spinEverySession || component === undefined || LOOPED_COMPONENTS.has(component);
}

/** A stable key: sessions are reused while it does not change. */
export const runConfigKey = (c: RunConfig): string => JSON.stringify(c);

export function sessionOptions(
  config: RunConfig,
  provider: ExecutionProvider,
  profilePrefix?: string,
  /** The component folder (`unet`, `vae_decoder`, ...): decides spinning (see `spins`). */
  component?: string,
): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    intraOpNumThreads: config.intraOpThreads,
    interOpNumThreads: config.interOpThreads,
    graphOptimizationLevel: config.graphOptimizationLevel,
    enableCpuMemArena: config.enableCpuMemArena,
    enableMemPattern: config.enableMemPattern,
    logSeverityLevel: 3,
    ...(spins(config, component)
      ? {}
      : { extra: { session: { 'intra_op.allow_spinning': '0', 'inter_op.allow_spinning': '0' } } }),
    ...(config.enableProfiling && profilePrefix
      ? { enableProfiling: true, profileFilePrefix: profilePrefix }
      : {}),
  };
}
