import { createHash, type Hash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  statfsSync,
} from 'node:fs';
import { arch, cpus } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { studioHome } from '../paths';
import { ortVersion } from '../versions';
import type { RunConfig } from './run-config';

/**
 * A hash over a component's model files as they are on disk (name, size, modification time of
 * the graph and its external data): what a cache derived from them must be keyed on.
 */
export function modelFilesHash(file: string): Hash {
  const hash = createHash('sha256');
  const folder = dirname(file);
  for (const name of readdirSync(folder).sort()) {
    if (!/\.(onnx|onnx_data|pb|data)$/.test(name)) continue;
    const s = statSync(join(folder, name));
    hash.update(`${name}:${s.size}:${s.mtimeMs};`);
  }
  return hash;
}

/** Ours: the cache is written only while this much disk stays free beyond the copy itself. */
const KEEP_FREE_BYTES = 2 * 1024 ** 3;

function folderBytes(file: string): number {
  const folder = dirname(file);
  let total = 0;
  for (const name of readdirSync(folder)) {
    if (!/\.(onnx|onnx_data|pb|data)$/.test(name)) continue;
    total += statSync(join(folder, name)).size;
  }
  return total;
}

function freeBytes(dir: string): number {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

export interface OptimizedCache {
  /** `<home>/cache/ort-optimized/<key>/model.onnx`: the graph ORT optimized, loaded as it is. */
  path: string;
  exists: boolean;
  /** Why it will not be written this time (the source loads as usual), e.g. too little disk. */
  skip?: string;
}

/**
 * ORT can save the graph it optimized for a provider; loading that file skips the optimization
 * passes next time (a full-size SD 1.5 loads in 2.7 s instead of 13.5 s, and its first UNet step
 * is no longer the slowest: docs/benchmarks.md). The key covers everything that changes the
 * result: the source files (path, size, mtime, external data), the optimization level, the
 * provider, the ORT version and the CPU (level `all` lays tensors out for its vector width). Each
 * entry is a folder of its own, written under a name unique to this process and renamed into place
 * once whole, so two processes loading one model for the first time never write the same files.
 */
export function optimizedModelPath(
  file: string,
  config: RunConfig,
  provider: string,
): OptimizedCache {
  const hash = modelFilesHash(file);
  const cpu = `${cpus()[0]?.model ?? 'cpu'}|${arch()}`;
  hash.update(`${file}|${config.graphOptimizationLevel}|${provider}|${ortVersion()}|${cpu}`);
  const dir = join(studioHome(), 'cache', 'ort-optimized');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, hash.digest('hex').slice(0, 24), 'model.onnx');
  if (existsSync(path)) return { path, exists: true };
  const needed = folderBytes(file) + KEEP_FREE_BYTES;
  const free = freeBytes(dir);
  return free < needed
    ? {
        path,
        exists: false,
        skip: `the optimized-model cache was not written: ${(free / 1e9).toFixed(1)} GB free at ${dir}, ${(needed / 1e9).toFixed(1)} GB wanted (the model's size plus 2 GB)`,
      }
    : { path, exists: false };
}

/** Where this process writes a cache entry before it is renamed into place. */
const partialDir = (cache: { path: string }): string =>
  `${dirname(cache.path)}.${process.pid}.partial`;

/** Session options that either write the optimized graph or load the cached one as-is. */
export function withOptimizedCache(
  options: ort.InferenceSession.SessionOptions,
  cache: OptimizedCache,
): { source: 'cache' | 'model'; options: ort.InferenceSession.SessionOptions } {
  if (cache.exists)
    return { source: 'cache', options: { ...options, graphOptimizationLevel: 'disabled' } };
  if (cache.skip) return { source: 'model', options };
  const partial = partialDir(cache);
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const extra = (options.extra ?? {}) as { session?: Record<string, string> };
  return {
    source: 'model',
    options: {
      ...options,
      optimizedModelFilePath: join(partial, basename(cache.path)),
      // Large UNets cannot be one protobuf (2 GB limit): big weights go to a file beside it. The
      // session's other settings (spinning) stay as they are.
      extra: {
        ...extra,
        session: {
          ...extra.session,
          optimized_model_external_initializers_file_name: `${basename(cache.path)}.data`,
          optimized_model_external_initializers_min_size_in_bytes: '1024',
        },
      },
    },
  };
}

/** Makes a freshly written optimized model visible to later loads (another process may have won). */
export function commitOptimizedModel(cache: OptimizedCache): void {
  if (cache.exists || cache.skip) return;
  const partial = partialDir(cache);
  if (!existsSync(join(partial, basename(cache.path)))) return;
  try {
    if (existsSync(cache.path)) rmSync(partial, { recursive: true, force: true });
    else renameSync(partial, dirname(cache.path));
  } catch {
    // Another process renamed its copy into place first: keep that one.
    rmSync(partial, { recursive: true, force: true });
  }
}
