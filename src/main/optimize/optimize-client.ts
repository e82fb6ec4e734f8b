import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { StudioError } from '../../shared/errors';
import { describeExit, startWorker } from '../workers/worker-process';
import type { FromOptimizer, OptimizeJob } from '../workers/optimize-worker';
import type { BuildProgress, VariantManifest } from './build-variant';
import { discardPartial } from './variant-files';

export interface OptimizeResult {
  outDir: string;
  components: string[];
  manifest: VariantManifest;
}

/**
 * Runs one variant build in the optimize worker. A cancel or a crash of the worker (native abort,
 * out-of-memory kill) fails the build with the reason and removes its partial folder, so nothing
 * half-written is left where the variant store could find it.
 */
export function runOptimizeJob(
  job: OptimizeJob,
  onProgress: (p: BuildProgress) => void = () => {},
  signal?: AbortSignal,
): Promise<OptimizeResult> {
  // Two builds into one folder would share its `.partial` folder and overwrite each other.
  const out = resolve(job.outDir);
  if (writing.has(out)) {
    return Promise.reject(
      new StudioError(
        `${out} is being written by another optimization; wait for it`,
        'unavailable',
      ),
    );
  }
  writing.add(out);
  return startJob(job, !existsSync(out), onProgress, signal).finally(() => writing.delete(out));
}

/** Output folders a build of this process is writing now. */
const writing = new Set<string>();

function startJob(
  job: OptimizeJob,
  /** The build makes the output folder: it goes again when the build fails. */
  createsOut: boolean,
  onProgress: (p: BuildProgress) => void,
  signal: AbortSignal | undefined,
): Promise<OptimizeResult> {
  return new Promise((resolve, reject) => {
    const child = startWorker('optimize-worker', { serviceName: 'Latent Studio optimizer' });
    let settled = false;
    const finish = (error?: Error, result?: OptimizeResult): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      // One job per worker: once it has answered (or failed), it is ended.
      child.kill('SIGKILL');
      if (error) {
        discardPartial(job.outDir, createsOut);
        reject(error);
      } else if (result) resolve(result);
    };
    const onAbort = (): void => {
      child.kill('SIGKILL');
      finish(new StudioError('optimization cancelled; nothing was kept', 'cancelled'));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort);
    child.onMessage((raw) => {
      const m = raw as FromOptimizer;
      if (m.type === 'progress') onProgress(m.progress);
      else if (m.type === 'result')
        finish(undefined, { outDir: m.outDir, components: m.components, manifest: m.manifest });
      else finish(new StudioError(m.message, m.code));
    });
    child.onExit((exit) => {
      finish(
        new StudioError(
          `${describeExit('optimizer', exit, child.stderrTail())}; nothing was kept`,
          'failed',
        ),
      );
    });
    child.send(job);
  });
}
