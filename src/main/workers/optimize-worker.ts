import { StudioError } from '../../shared/errors';
import { buildVariant, type BuildProgress, type VariantManifest } from '../optimize/build-variant';

/** What the optimize worker is asked to do: one variant build, then it exits. */
export interface OptimizeJob {
  sourceDir: string;
  recipe: string;
  outDir: string;
  force: boolean;
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
function send(message: FromOptimizer): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(message, () => resolve());
  });
}

process.once('message', (raw) => {
  const job = raw as OptimizeJob;
  void (async () => {
    try {
      const r = await buildVariant(job.sourceDir, job.recipe, job.outDir, {
        force: job.force,
        onProgress: (progress) => void send({ type: 'progress', progress }),
      });
      await send({ type: 'result', ...r });
    } catch (e) {
      const code = e instanceof StudioError ? e.code : 'failed';
      await send({ type: 'error', message: e instanceof Error ? e.message : String(e), code });
    }
    process.exit(0);
  })();
});
