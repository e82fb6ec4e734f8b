import type {
  ExecutionProvider,
  FeatureCache,
  GuidanceInterval,
  StageTimings,
  SchedulerName,
  SchedulerOverrides,
} from '../../shared/schemas';
import type { RunConfig } from './run-config';

/** What the main side asks the engine process to do (validated before it leaves the services). */
export interface PipelineRequest {
  modelDir: string;
  prompt: string;
  negativePrompt: string;
  steps?: number;
  guidance?: number;
  seed: number;
  scheduler?: SchedulerName;
  width?: number;
  height?: number;
  batch: number;
  ep: ExecutionProvider;
  threads?: number;
  /** Send a latent preview with every n-th progress event (0: never). */
  previewEvery: number;
  /** Scale the steps by prompt complexity (see adaptiveSteps in pipeline.ts). */
  adaptiveSteps?: boolean;
  /** scheduler_config.json keys to override (e.g. timestep_spacing), validated by the scheduler. */
  schedulerOverrides?: SchedulerOverrides;
  /** Session settings beyond `ep`/`threads` (a recipe's); unset fields keep the defaults. */
  runConfig?: Partial<RunConfig>;
  /** UNet feature caching; needs `unet_shallow/` in the model folder (the feature-cache variant). */
  featureCache?: FeatureCache;
  /** Classifier-free guidance only inside this part of the trajectory (cfg-truncate). */
  guidanceInterval?: GuidanceInterval;
}

export interface PipelineImage {
  png: Uint8Array;
  width: number;
  height: number;
}

export interface PipelineResult {
  images: PipelineImage[];
  seed: number;
  steps: number;
  guidance: number;
  scheduler: string;
  timings: StageTimings;
  warnings: string[];
  /** Component → the execution provider it ran on (a failed provider falls back to the next). */
  providers: Record<string, string>;
}

export interface PipelineProgress {
  stage: 'load' | 'encode' | 'denoise' | 'decode' | 'done';
  step: number;
  totalSteps: number;
  previewPng?: Uint8Array;
}

/** What the engine process has used so far: its peak resident memory is its own, not the studio's. */
export interface EngineStats {
  maxRssMb: number;
  rssMb: number;
  /** CPU time the engine process has used, for load = cpu time / wall time. */
  cpuMs: number;
}

export type ToEngine =
  | { type: 'generate'; id: string; request: PipelineRequest }
  | { type: 'cancel'; id: string }
  | { type: 'stats'; id: string };

export type FromEngine =
  | { type: 'progress'; id: string; progress: PipelineProgress }
  | { type: 'result'; id: string; result: PipelineResult }
  | { type: 'stats'; id: string; stats: EngineStats }
  | { type: 'error'; id: string; message: string; code: 'bad-input' | 'cancelled' | 'failed' };
