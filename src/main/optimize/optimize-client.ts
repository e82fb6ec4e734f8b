import { rmSync } from 'node:fs';
import { StudioError } from '../../shared/errors';
import { forkWorker } from '../workers/fork-worker';
import type { FromOptimizer, OptimizeJob } from '../workers/optimize-worker';
import { partialDir, type BuildProgress, type VariantManifest } from './build-variant';

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
  return new Promise((resolve, reject) => {
    const child = forkWorker('optimize-worker');
    let stderrTail = '';
    let settled = false;
    const finish = (error?: Error, result?: OptimizeResult): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (error) {
        rmSync(partialDir(job.outDir), { recursive: true, force: true });
        reject(error);
      } else if (result) resolve(result);
    };
    const onAbort = (): void => {
      child.kill('SIGKILL');
      finish(new StudioError('optimization cancelled; nothing was kept', 'cancelled'));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString()).slice(-2000);
    });
    child.stdout?.on('data', () => {});
    child.on('error', () => {});
    child.on('message', (raw) => {
      const m = raw as FromOptimizer;
      if (m.type === 'progress') onProgress(m.progress);
      else if (m.type === 'result')
        finish(undefined, { outDir: m.outDir, components: m.components, manifest: m.manifest });
      else finish(new StudioError(m.message, m.code));
    });
    child.on('exit', (code, sig) => {
      const lastLine = stderrTail.trim().split('\n').pop() ?? '';
      const why = sig
        ? `the optimizer process was killed (${sig}${sig === 'SIGKILL' ? ', possibly out of memory' : ''})`
        : `the optimizer process exited with code ${code} before finishing`;
      finish(
        new StudioError(`${why}${lastLine ? `: ${lastLine}` : ''}; nothing was kept`, 'failed'),
      );
    });
    child.send(job);
  });
}
