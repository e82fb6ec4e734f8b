import { StudioError } from '../../shared/errors';
import { buildVariant, type BuildProgress, type VariantManifest } from '../optimize/build-variant';
import type { LoraSpec } from '../optimize/lora-merge';
import { parentChannel } from './parent-channel';

/** What the optimize worker is asked to do: one variant build, then it exits. */
export interface OptimizeJob {
  sourceDir: string;
  recipe: string;
  outDir: string;
  force: boolean;
  /** LoRAs to merge before the recipe's transforms (recipe `lora`, or stacked on another). */
  loras?: LoraSpec[];
}

export type FromOptimizer =
  | { type: 'progress'; progress: BuildProgress }
  | { type: 'result'; outDir: string; components: string[]; manifest: VariantManifest }
  | { type: 'error'; message: string; code: StudioError['code'] };

/**
 * The optimizer's own process: ONNX graphs of several GB and an ONNX Runtime session for the
 * self-check never live in the process that holds the window or the database. One job per process,
 * so its memory is returned to the system when the job ends.
 */
const parent = parentChannel();
const send = (message: FromOptimizer): Promise<void> => parent.send(message);
let started = false;

parent.onMessage((raw) => {
  if (started) return;
  started = true;
  const job = raw as OptimizeJob;
  void (async () => {
    try {
      const r = await buildVariant(job.sourceDir, job.recipe, job.outDir, {
        force: job.force,
        loras: job.loras,
        onProgress: (progress) => void send({ type: 'progress', progress }),
      });
      await send({ type: 'result', ...r });
    } catch (e) {
      const code = e instanceof StudioError ? e.code : 'failed';
      await send({ type: 'error', message: e instanceof Error ? e.message : String(e), code });
    }
    parent.finish();
  })();
});
