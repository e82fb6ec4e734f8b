import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StudioError } from '../../shared/errors';
import type { DownloadPlan, DownloadProgress, FitReport } from '../../shared/hub-schemas';
import type { ExecutionProvider, HardwareInfo } from '../../shared/schemas';
import { bestProvider } from '../hardware/best-provider';
import { detectFamily } from '../models/model-folder';
import { RepoCache, hubCacheDir } from './cache-layout';
import { checkFit } from './fit';
import { HubClient, hubToken } from './hub-client';
import { HubModels, isCompletePipeline } from './hub-models';
import { componentSizes, selectPipelineFiles, type PipelineFile } from './pipeline-files';
import { modelNameOf, parseRepoRef, type RepoRef } from './repo-id';
import { transferFile } from './transfer';

/**
 * The model library's downloads: plan (list the repo, pick the ONNX pipeline, say the size, the free
 * disk and whether it fits), then fetch into the shared HF cache with progress, cancel and resume,
 * and register the model only once every file is verified and linked. One download per repo at a
 * time, in this process (a map) and across processes (a lock file in the cache's `.locks`).
 */

export interface HubServiceDeps {
  home: string;
  models: HubModels;
  hardware: () => Promise<Pick<HardwareInfo, 'memory' | 'gpus' | 'providers'>>;
  emit: (progress: DownloadProgress) => void;
  /** Free bytes on the disk holding `dir` (tests replace it). */
  freeBytes?: (dir: string) => Promise<number>;
  retries?: number;
  retryDelayMs?: number;
  cacheDir?: () => string;
  /** The token for Hub calls (HF_TOKEN, else one stored by the app). */
  token?: () => string | undefined;
}

interface Planned {
  plan: DownloadPlan;
  ref: RepoRef;
  files: PipelineFile[];
}

interface Job {
  jobId: string;
  repo: string;
  controller: AbortController;
  last: DownloadProgress;
}

async function diskFree(dir: string): Promise<number> {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  const s = await statfs(d);
  return s.bavail * s.bsize;
}

const gib = (bytes: number): string =>
  bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Bytes per second over the last few seconds, for the rate and the time left. */
class Meter {
  private samples: { t: number; bytes: number }[] = [];
  rate(bytes: number): number {
    const t = Date.now();
    this.samples.push({ t, bytes });
    while (this.samples.length > 2 && t - (this.samples[0]?.t ?? t) > 5000) this.samples.shift();
    const first = this.samples[0];
    if (!first || t - first.t < 200) return 0;
    return ((bytes - first.bytes) * 1000) / (t - first.t);
  }
}

export class HubService {
  private readonly jobs = new Map<string, Job>();
  private readonly cacheDir: () => string;

  constructor(private readonly deps: HubServiceDeps) {
    this.cacheDir = deps.cacheDir ?? hubCacheDir;
  }

  private client(signal?: AbortSignal): HubClient {
    return new HubClient(signal, { token: this.deps.token?.() ?? hubToken() });
  }

  private freeBytes(dir: string): Promise<number> {
    return (this.deps.freeBytes ?? diskFree)(dir);
  }

  async fit(weightsBytes: number, largest: number, ep?: ExecutionProvider): Promise<FitReport> {
    const hardware = await this.deps.hardware();
    return checkFit({
      weightsBytes,
      largestComponentBytes: largest,
      ep: ep ?? bestProvider(hardware),
      hardware,
    });
  }

  /** Lists the repo and says what a download would fetch; writes nothing. */
  async plan(input: {
    repo: string;
    revision?: string;
    subfolder?: string;
  }): Promise<DownloadPlan> {
    const ref = parseRepoRef(input);
    return (await this.makePlan(ref, this.client())).plan;
  }

  private async makePlan(ref: RepoRef, client: HubClient): Promise<Planned> {
    const info = await client.repoInfo(ref.repo, ref.revision);
    const entries = await client.listTree(ref.repo, info.sha);
    const { files, skipped } = selectPipelineFiles(ref.repo, entries, ref.subfolder);
    const cacheDir = this.cacheDir();
    const cache = new RepoCache(cacheDir, ref.repo);
    const planned: DownloadPlan['files'] = [];
    for (const f of files) {
      const blob = cache.blob(f.etag);
      const done = await stat(blob).then(
        (s) => s.size === f.size,
        () => false,
      );
      const partial = done
        ? 0
        : await stat(`${blob}.incomplete`).then(
            (s) => (s.size <= f.size ? s.size : 0),
            () => 0,
          );
      planned.push({ path: f.path, size: f.size, cached: done, partialBytes: partial });
    }
    const totalBytes = files.reduce((s, f) => s + f.size, 0);
    const neededBytes = planned.reduce((s, f) => s + (f.cached ? 0 : f.size - f.partialBytes), 0);
    const sizes = componentSizes(files, ref.subfolder);
    const fit = await this.fit(totalBytes, Math.max(0, ...sizes.values()));
    return {
      ref,
      files,
      plan: {
        repo: ref.repo,
        revision: ref.revision,
        commit: info.sha,
        subfolder: ref.subfolder,
        gated: info.gated,
        files: planned,
        totalBytes,
        neededBytes,
        freeBytes: await this.freeBytes(cacheDir),
        cacheDir,
        skipped,
        fit,
      },
    };
  }

  /** Downloads in progress (a page that was reloaded picks them up again). */
  active(): DownloadProgress[] {
    return [...this.jobs.values()].map((j) => j.last);
  }

  cancel(jobId: string): boolean {
    const job = [...this.jobs.values()].find((j) => j.jobId === jobId || j.repo === jobId);
    if (!job) return false;
    job.controller.abort();
    return true;
  }

  async download(input: {
    repo: string;
    revision?: string;
    subfolder?: string;
    jobId?: string;
  }): Promise<{
    jobId: string;
    name: string;
    path: string;
    family: ReturnType<typeof detectFamily>;
    commit: string;
    downloadedBytes: number;
    reusedBytes: number;
    files: number;
  }> {
    const ref = parseRepoRef(input);
    const jobId = input.jobId ?? randomUUID();
    const cacheDir = this.cacheDir();
    const key = `${cacheDir}\0${ref.repo}`;
    const running = this.jobs.get(key);
    if (running) {
      throw new StudioError(
        `${ref.repo} is already downloading (job ${running.jobId}); wait for it or cancel it`,
        'unavailable',
      );
    }
    const controller = new AbortController();
    const progress: DownloadProgress = {
      jobId,
      repo: ref.repo,
      phase: 'listing',
      file: null,
      fileBytes: 0,
      fileTotal: 0,
      bytes: 0,
      total: 0,
      filesDone: 0,
      filesTotal: 0,
      rateBps: 0,
      etaSeconds: null,
    };
    const job: Job = { jobId, repo: ref.repo, controller, last: progress };
    this.jobs.set(key, job);
    const emit = (patch: Partial<DownloadProgress>): void => {
      job.last = { ...job.last, ...patch };
      this.deps.emit(job.last);
    };
    emit({});
    let releaseLock: (() => Promise<void>) | undefined;
    try {
      const client = this.client(controller.signal);
      const { plan, files } = await this.makePlan(ref, client);
      if (plan.gated && !(this.deps.token?.() ?? hubToken())) {
        throw new StudioError(
          `${ref.repo} is gated: accept its licence on ${client.endpoint}/${ref.repo} while signed in, then set HF_TOKEN to a read token from that account`,
          'unavailable',
        );
      }
      const free = plan.freeBytes;
      if (plan.neededBytes > free) {
        throw new StudioError(
          `not enough disk space in ${cacheDir}: ${ref.repo} needs ${gib(plan.neededBytes)} more, and ${gib(free)} is free; free some space or set HF_HUB_CACHE to a folder on a bigger disk`,
          'too-large',
        );
      }
      const cache = new RepoCache(cacheDir, ref.repo);
      releaseLock = await this.lock(cache);
      const meter = new Meter();
      let bytes = plan.totalBytes - plan.neededBytes;
      const reusedBytes = plan.files.reduce((s, f) => s + (f.cached ? f.size : 0), 0);
      let downloadedBytes = 0;
      let lastEmit = 0;
      const tick = (force = false): void => {
        const now = Date.now();
        if (!force && now - lastEmit < 200) return;
        lastEmit = now;
        const rateBps = meter.rate(bytes);
        emit({
          bytes,
          rateBps,
          etaSeconds: rateBps > 0 ? Math.ceil((plan.totalBytes - bytes) / rateBps) : null,
        });
      };
      emit({ phase: 'downloading', total: plan.totalBytes, filesTotal: files.length, bytes });
      for (const [i, f] of files.entries()) {
        const planned = plan.files[i];
        let fileBytes = planned?.cached ? f.size : (planned?.partialBytes ?? 0);
        emit({ file: f.path, fileBytes, fileTotal: f.size, filesDone: i });
        if (!planned?.cached) {
          let blob: Blob | undefined;
          downloadedBytes += await transferFile(f, cache.blob(f.etag), {
            open: async (offset) => {
              blob ??= await client.fileBlob(ref.repo, plan.commit, f.path);
              return { stream: blob.slice(offset).stream(), size: blob.size };
            },
            onBytes: (n) => {
              bytes += n;
              fileBytes += n;
              job.last = { ...job.last, fileBytes };
              tick();
            },
            onDiscard: (n) => {
              bytes -= n;
              fileBytes = Math.max(0, fileBytes - n);
              tick(true);
            },
            signal: controller.signal,
            retries: this.deps.retries,
            retryDelayMs: this.deps.retryDelayMs,
          }).catch((error: unknown) => {
            throw client.explain(error, ref.repo, ref.revision);
          });
        }
        tick(true);
      }
      emit({ phase: 'verifying', file: null, filesDone: files.length });
      for (const f of files) {
        await cache.link(plan.commit, f.path, f.etag);
      }
      await cache.writeRef(ref.revision, plan.commit);
      const snapshot = cache.snapshot(plan.commit);
      const dir = ref.subfolder ? join(snapshot, ...ref.subfolder.split('/')) : snapshot;
      if (!isCompletePipeline(dir)) {
        throw new StudioError(
          `${ref.repo}: the pipeline is incomplete after linking ${dir}`,
          'failed',
        );
      }
      const family = detectFamily(dir);
      const name = modelNameOf(ref);
      this.deps.models.record({
        name,
        repo: ref.repo,
        revision: ref.revision,
        commit: plan.commit,
        subfolder: ref.subfolder,
        cacheDir,
      });
      emit({ phase: 'done', etaSeconds: 0, message: `${name} is ready (${family})` });
      return {
        jobId,
        name,
        path: dir,
        family,
        commit: plan.commit,
        downloadedBytes,
        reusedBytes,
        files: files.length,
      };
    } catch (error) {
      const cancelled = controller.signal.aborted;
      const message = error instanceof Error ? error.message : String(error);
      emit({ phase: cancelled ? 'cancelled' : 'failed', message });
      if (cancelled) {
        throw new StudioError(
          `${ref.repo}: download cancelled; the partial files are kept, and the same download resumes from them`,
          'cancelled',
        );
      }
      throw error;
    } finally {
      this.jobs.delete(key);
      await releaseLock?.();
    }
  }

  /** One download per repo across processes: `<cache>/.locks/models--o--n/latent-studio.lock`. */
  private async lock(cache: RepoCache): Promise<() => Promise<void>> {
    const file = join(
      cache.cacheDir,
      '.locks',
      cache.dir.slice(cache.cacheDir.length + 1),
      'latent-studio.lock',
    );
    await mkdir(dirname(file), { recursive: true });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(file, String(process.pid), { flag: 'wx' });
        return () => rm(file, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
        let alive = false;
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
          try {
            process.kill(pid, 0);
            alive = true;
          } catch {
            alive = false;
          }
        }
        if (alive) {
          throw new StudioError(
            `${cache.repo} is being downloaded by another process (pid ${pid}); wait for it or stop it`,
            'unavailable',
          );
        }
        await rm(file, { force: true });
      }
    }
    throw new StudioError(`${cache.repo}: could not take the download lock ${file}`, 'unavailable');
  }
}
