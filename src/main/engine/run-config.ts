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
  /**
   * Save ORT's optimized graph once and load it directly afterwards (shorter session creation,
   * a first step as fast as the rest); CPU provider only, and only while the disk has room
   * (optimized-model-cache.ts). On by default since it measured 13.5 s -> 2.7 s for SD 1.5.
   */
  optimizedModelCache: boolean;
  /**
   * Whether any session's idle intra-/inter-op threads may spin-wait for the next piece of work
   * (which ones do: `spinEverySession`). False makes every one sleep
   * (`session.intra_op.allow_spinning` = 0), the UNet's too: the `no-spin` recipe.
   */
  allowSpinning: boolean;
  /**
   * ORT's own default, every session spinning. False (the studio's default): only the sessions a
   * pipeline calls in a loop (the UNet) spin; the ones it calls once per image (text encoders, VAE)
   * sleep after their run. Their spinning, ~1 core for 50-70 ms after each run on a 2-core
   * machine, took the CPU from the stage after them: the UNet's first ten steps took 9-12 ms
   * instead of 7-8, and the VAE 10-15 ms instead of 8-9 (docs/benchmarks.md, session 6).
   */
  spinEverySession: boolean;
  /**
   * Fix the UNet's symbolic input dimensions (batch, latent height and width, sequence) to the
   * generation's sizes before its session is created (static-shapes.ts); a new size makes a new
   * session. The `static-shapes` recipe.
   */
  staticShapes: boolean;
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
  optimizedModelCache: true,
  allowSpinning: true,
  spinEverySession: false,
  staticShapes: false,
};

/** Components a pipeline calls once per step: the only ones whose idle threads spin by default. */
const LOOPED_COMPONENTS: ReadonlySet<string> = new Set(['unet', 'unet_shallow']);

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
