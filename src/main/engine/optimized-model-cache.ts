import { createHash, type Hash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
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

/**
 * ORT can save the graph it optimized for a provider; loading that file skips the optimization
 * passes next time. The key covers everything that changes the result: the source files (path,
 * size, mtime, external data), the optimization level, the provider and the ORT version.
 */
export function optimizedModelPath(
  file: string,
  config: RunConfig,
  provider: string,
): { path: string; exists: boolean } {
  const hash = modelFilesHash(file);
  hash.update(`${file}|${config.graphOptimizationLevel}|${provider}|${ortVersion()}`);
  const dir = join(studioHome(), 'cache', 'ort-optimized');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${hash.digest('hex').slice(0, 24)}.onnx`);
  return { path, exists: existsSync(path) };
}

/** Session options that either write the optimized graph or load the cached one as-is. */
export function withOptimizedCache(
  options: ort.InferenceSession.SessionOptions,
  cache: { path: string; exists: boolean },
): { source: 'cache' | 'model'; options: ort.InferenceSession.SessionOptions } {
  if (cache.exists)
    return { source: 'cache', options: { ...options, graphOptimizationLevel: 'disabled' } };
  return {
    source: 'model',
    options: {
      ...options,
      // Written under a temporary name and renamed once the session exists (commitOptimizedModel),
      // so a crash mid-write never leaves a half file that a later load would trust.
      optimizedModelFilePath: `${cache.path}.partial`,
      // Large UNets cannot be one protobuf (2 GB limit): big weights go to a file beside it.
      extra: {
        session: {
          optimized_model_external_initializers_file_name: `${basename(cache.path)}.data`,
          optimized_model_external_initializers_min_size_in_bytes: '1024',
        },
      },
    },
  };
}

/** Makes a freshly written optimized model visible to later loads. */
export function commitOptimizedModel(cache: { path: string }): void {
  if (existsSync(`${cache.path}.partial`)) renameSync(`${cache.path}.partial`, cache.path);
}
