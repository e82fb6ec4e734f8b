import { describeExit, startWorker, type WorkerProcess } from '../workers/worker-process';
import { StudioError } from '../../shared/errors';
import type {
  EngineStats,
  FromEngine,
  PipelineProgress,
  PipelineRequest,
  PipelineResult,
  ToEngine,
} from './protocol';

interface Pending {
  child: WorkerProcess;
  resolve: (r: PipelineResult) => void;
  resolveStats?: (s: EngineStats) => void;
  reject: (e: Error) => void;
  onProgress: (p: PipelineProgress) => void;
}

/**
 * The main side of the engine process. One child runs ONNX Runtime; if it dies (native crash, OOM
 * kill) every request in flight fails with the reason and the next request starts a fresh child.
 */
export class EngineClient {
  private child: WorkerProcess | undefined;
  private readonly pending = new Map<string, Pending>();
  private statsCounter = 0;

  private ensureChild(): WorkerProcess {
    if (this.child?.alive) return this.child;
    const child = startWorker('engine-worker', { serviceName: 'Latent Studio engine' });
    child.onMessage((raw) => this.onMessage(raw as FromEngine));
    child.onExit((exit) => {
      if (this.child === child) this.child = undefined;
      const error = new StudioError(describeExit('engine', exit, child.stderrTail()), 'failed');
      for (const [id, p] of this.pending) {
        if (p.child !== child) continue;
        this.pending.delete(id);
        p.reject(error);
      }
    });
    this.child = child;
    return child;
  }

  private onMessage(message: FromEngine): void {
    const p = this.pending.get(message.id);
    if (!p) return;
    if (message.type === 'progress') {
      p.onProgress(message.progress);
      return;
    }
    this.pending.delete(message.id);
    if (message.type === 'stats') p.resolveStats?.(message.stats);
    else if (message.type === 'result') p.resolve(message.result);
    else p.reject(new StudioError(message.message, message.code));
  }

  run(
    id: string,
    request: PipelineRequest,
    onProgress: (p: PipelineProgress) => void,
  ): Promise<PipelineResult> {
    const child = this.ensureChild();
    return new Promise((resolve, reject) => {
      if (this.pending.has(id)) {
        reject(
          new StudioError(
            `a request with id "${id}" is already running; use a new jobId`,
            'bad-input',
          ),
        );
        return;
      }
      this.pending.set(id, { child, resolve, reject, onProgress });
      this.post(child, id, { type: 'generate', id, request });
    });
  }

  /** Sends to the child; if the channel is already closed, the request fails instead of throwing. */
  private post(child: WorkerProcess, id: string, message: ToEngine): void {
    if (child.send(message) || message.type === 'cancel') return;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.reject(new StudioError('the engine process is not reachable (channel closed)', 'failed'));
  }

  /** Peak and current memory of the engine process (starting it if needed). */
  stats(): Promise<EngineStats> {
    const child = this.ensureChild();
    const id = `stats-${++this.statsCounter}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        child,
        resolve: () => {},
        resolveStats: resolve,
        reject,
        onProgress: () => {},
      });
      this.post(child, id, { type: 'stats', id });
    });
  }

  cancel(id: string): boolean {
    if (!this.pending.has(id) || !this.child) return false;
    this.post(this.child, id, { type: 'cancel', id });
    return true;
  }

  /** The child's pid, for tests that kill it. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    if (!child.alive) return;
    await new Promise<void>((resolve) => {
      child.onExit(() => resolve());
      child.kill();
    });
  }
}
