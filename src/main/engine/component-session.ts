import * as ort from 'onnxruntime-node';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StudioError } from '../../shared/errors';
import type { ExecutionProvider } from '../../shared/schemas';
import { sessionOptions, type RunConfig } from './run-config';
import {
  commitOptimizedModel,
  optimizedModelPath,
  withOptimizedCache,
  type OptimizedCache,
} from './optimized-model-cache';
import { floatTensor } from './float16';

export interface TensorInfo {
  name: string;
  type: string;
  shape: (number | string)[];
}

/** One component's ONNX session, with its I/O metadata and the time spent inside `run`. */
export class ComponentSession {
  ortMs = 0;
  profiling = false;

  private constructor(
    readonly component: string,
    readonly file: string,
    readonly provider: ExecutionProvider,
    private readonly session: ort.InferenceSession,
    readonly inputs: Map<string, TensorInfo>,
    readonly outputs: Map<string, TensorInfo>,
    readonly warnings: string[],
  ) {}

  static async load(
    modelDir: string,
    component: string,
    config: RunConfig,
    /** The graph to load instead of `<modelDir>/<component>/model.onnx` (a static-shapes copy). */
    graphFile?: string,
  ): Promise<ComponentSession> {
    const file = join(modelDir, component, 'model.onnx');
    if (!existsSync(file)) {
      throw new StudioError(
        `${file} is missing: the model has no ${component} component`,
        'bad-input',
      );
    }
    if (statSync(file).size < 16) {
      throw new StudioError(
        `${file} is truncated (${statSync(file).size} bytes); re-export the model`,
        'bad-input',
      );
    }
    const warnings: string[] = [];
    let lastError: unknown;
    for (const provider of config.providers) {
      try {
        let cache: OptimizedCache | undefined;
        let options = sessionOptions(
          config,
          provider,
          config.profileDir ? join(config.profileDir, component) : undefined,
          component,
        );
        let source = graphFile ?? file;
        // On the CPU only: a GPU provider's optimized graph holds provider-specific nodes.
        if (config.optimizedModelCache && provider === 'cpu') {
          cache = optimizedModelPath(source, config, provider);
          if (cache.skip) warnings.push(`${component}: ${cache.skip}`);
          const cached = withOptimizedCache(options, cache);
          options = cached.options;
          if (cached.source === 'cache') source = cache.path;
        }
        const session = await ort.InferenceSession.create(source, options);
        if (cache && !cache.exists) commitOptimizedModel(cache);
        const meta = (
          list: readonly ort.InferenceSession.ValueMetadata[],
        ): Map<string, TensorInfo> =>
          new Map(
            list.map((m) => [
              m.name,
              {
                name: m.name,
                type: m.isTensor ? m.type : 'non-tensor',
                shape: m.isTensor ? [...m.shape] : [],
              },
            ]),
          );
        const created = new ComponentSession(
          component,
          file,
          provider,
          session,
          meta(session.inputMetadata),
          meta(session.outputMetadata),
          warnings,
        );
        created.profiling = Boolean(config.enableProfiling && config.profileDir);
        return created;
      } catch (error) {
        lastError = error;
        const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
        warnings.push(
          `${component}: provider ${provider} failed (${reason.slice(0, 200)}); trying the next one`,
        );
      }
    }
    const reason =
      lastError instanceof Error ? lastError.message.split('\n')[0] : String(lastError);
    throw new StudioError(
      `${file} could not be loaded with ${config.providers.join(', ')}: ${reason}. If the file is damaged, re-export the model.`,
      'bad-input',
    );
  }

  input(name: string): TensorInfo | undefined {
    return this.inputs.get(name);
  }

  requireInputs(names: string[], family: string): void {
    const missing = names.filter((n) => !this.inputs.has(n));
    if (missing.length > 0) {
      throw new StudioError(
        `${this.file} does not look like a ${family} ${this.component}: it lacks input(s) ${missing.join(', ')} (it has ${[...this.inputs.keys()].join(', ')})`,
        'bad-input',
      );
    }
  }

  async run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    const start = performance.now();
    try {
      return await this.session.run(feeds);
    } finally {
      this.ortMs += performance.now() - start;
    }
  }

  async release(): Promise<void> {
    // Profiling sessions write their trace file when profiling ends.
    if (this.profiling) this.session.endProfiling();
    await this.session.release();
  }
}

/** Builds an integer tensor in whichever integer type the session declares (int32 or int64). */
export function intTensor(
  info: TensorInfo | undefined,
  values: ArrayLike<number>,
  dims: number[],
): ort.Tensor {
  if (info?.type === 'int64') {
    return new ort.Tensor(
      'int64',
      BigInt64Array.from(Array.from(values, (v) => BigInt(Math.round(v)))),
      dims,
    );
  }
  if (info?.type === 'int32') return new ort.Tensor('int32', Int32Array.from(values), dims);
  if (info?.type === 'float16') {
    throw new StudioError('float16 integer inputs are not supported', 'bad-input');
  }
  if (info?.type === 'float16') return floatTensor(info, Float32Array.from(values), dims);
  return new ort.Tensor('float32', Float32Array.from(values), dims);
}

/** A timestep tensor in the declared dtype (int64 or float) and rank (scalar or [batch]). */
export function timestepTensor(info: TensorInfo | undefined, t: number, batch: number): ort.Tensor {
  const rank = info?.shape.length ?? 1;
  // Scalar, a fixed [1] (some exports), or one per batch row.
  const count = rank === 0 || info?.shape[0] === 1 ? 1 : batch;
  const dims = rank === 0 ? [] : [count];
  const values = new Array<number>(count).fill(t);
  if (info?.type === 'int64' || info?.type === 'int32')
    return intTensor(info, values.map(Math.round), dims);
  if (info?.type === 'float16') return floatTensor(info, Float32Array.from(values), dims);
  return new ort.Tensor('float32', Float32Array.from(values), dims);
}
