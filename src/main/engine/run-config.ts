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
};

/** A stable key: sessions are reused while it does not change. */
export const runConfigKey = (c: RunConfig): string => JSON.stringify(c);

export function sessionOptions(
  config: RunConfig,
  provider: ExecutionProvider,
  profilePrefix?: string,
): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    intraOpNumThreads: config.intraOpThreads,
    interOpNumThreads: config.interOpThreads,
    graphOptimizationLevel: config.graphOptimizationLevel,
    enableCpuMemArena: config.enableCpuMemArena,
    enableMemPattern: config.enableMemPattern,
    logSeverityLevel: 3,
    ...(config.allowSpinning
      ? {}
      : { extra: { session: { 'intra_op.allow_spinning': '0', 'inter_op.allow_spinning': '0' } } }),
    ...(config.enableProfiling && profilePrefix
      ? { enableProfiling: true, profileFilePrefix: profilePrefix }
      : {}),
  };
}
