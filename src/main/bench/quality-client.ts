import { StudioError } from '../../shared/errors';
import { describeExit, startWorker, type WorkerProcess } from '../workers/worker-process';
import type { FromQuality, JudgeAnswer, ToQuality } from '../workers/quality-worker';
import type { QualityMetrics } from './quality';

type Request =
  | { type: 'judge'; png: Uint8Array; reference?: Uint8Array; prompt?: string }
  | { type: 'compare'; baseline: Uint8Array; candidate: Uint8Array };

interface Pending {
  worker: WorkerProcess;
  resolve: (m: FromQuality) => void;
  reject: (e: Error) => void;
}

/** A worker with nothing to do for this long is ended; the next request starts a new one. */
const IDLE_MS = 30_000;

/**
 * The studio's side of the quality worker (workers/quality-worker.ts): the same measures as
 * quality.ts, asynchronous, computed in another process. A crash of the worker fails the requests
 * in flight with the reason; the next request starts a fresh worker.
 */
export class QualityClient {
  private worker: WorkerProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idle: NodeJS.Timeout | undefined;

  /**
   * Inspects a generated PNG (black / uniform); given the baseline PNG, compares the two; given
   * the prompt, checks that the image draws it (where the shapes vocabulary understands it).
   */
  async judge(png: Uint8Array, reference?: Uint8Array, prompt?: string): Promise<JudgeAnswer> {
    const m = await this.request({
      type: 'judge',
      png,
      ...(reference ? { reference } : {}),
      ...(prompt ? { prompt } : {}),
    });
    if (m.type !== 'judged') throw new StudioError('the quality worker answered out of turn');
    return m.answer;
  }

  /** SSIM, per-channel SSIM, PSNR and differences of two PNGs of the same size. */
  async compare(baseline: Uint8Array, candidate: Uint8Array): Promise<QualityMetrics> {
    const m = await this.request({ type: 'compare', baseline, candidate });
    if (m.type !== 'compared') throw new StudioError('the quality worker answered out of turn');
    return m.metrics;
  }

  /** The worker's pid while one runs (tests kill it). */
  get pid(): number | undefined {
    return this.worker?.alive ? this.worker.pid : undefined;
  }

  close(): void {
    clearTimeout(this.idle);
    this.worker?.kill();
    this.worker = undefined;
  }

  private ensureWorker(): WorkerProcess {
    if (this.worker?.alive) return this.worker;
    const worker = startWorker('quality-worker', { serviceName: 'Latent Studio image quality' });
    worker.onMessage((raw) => {
      const m = raw as FromQuality;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'error') p.reject(new StudioError(m.message, m.code));
      else p.resolve(m);
      this.armIdle();
    });
    worker.onExit((exit) => {
      if (this.worker === worker) this.worker = undefined;
      const error = new StudioError(
        describeExit('image-quality', exit, worker.stderrTail()),
        'failed',
      );
      for (const [id, p] of this.pending) {
        if (p.worker !== worker) continue;
        this.pending.delete(id);
        p.reject(error);
      }
    });
    this.worker = worker;
    return worker;
  }

  private armIdle(): void {
    clearTimeout(this.idle);
    if (this.pending.size > 0) return;
    this.idle = setTimeout(() => this.close(), IDLE_MS);
    this.idle.unref();
  }

  private request(body: Request): Promise<FromQuality> {
    clearTimeout(this.idle);
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { worker, resolve, reject });
      const message: ToQuality = { ...body, id };
      if (!worker.send(message)) {
        this.pending.delete(id);
        reject(new StudioError('the image-quality process is not reachable', 'failed'));
      }
    });
  }
}

/** The studio's one quality worker, shared by every benchmark run. */
export const qualityClient = new QualityClient();
