import * as ort from 'onnxruntime-node';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StudioError } from '../../shared/errors';
import { floatToHalf, halfToFloat } from './tensor-data';

/** How close a transformed component's outputs stay to the source's on the same fixed inputs. */
export interface CheckFigures {
  cosine: number;
  maxAbsDiff: number;
  /** NaN or infinite values in the variant's outputs (the source had none). */
  nanCount: number;
  elements: number;
  /**
   * False when the source itself gives different outputs on the same inputs (a VAE encoder that
   * samples inside the graph): then only loading, running and finite outputs are checked.
   */
  deterministic: boolean;
}

/** What a transform must reach to be kept; the figures are recorded in the manifest either way. */
export interface Tolerance {
  minCosine: number;
}

/** A tiny deterministic generator so the check's inputs are the same on every machine. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(n: number, rnd: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rnd(), 1e-12);
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  }
  return out;
}

function vocabSize(modelDir: string): number {
  for (const folder of ['tokenizer', 'tokenizer_2']) {
    const f = join(modelDir, folder, 'vocab.json');
    if (existsSync(f)) return Object.keys(JSON.parse(readFileSync(f, 'utf8')) as object).length;
  }
  return 49408;
}

function latentSize(modelDir: string): number {
  const f = join(modelDir, 'unet', 'config.json');
  if (existsSync(f)) {
    const size = (JSON.parse(readFileSync(f, 'utf8')) as { sample_size?: unknown }).sample_size;
    if (typeof size === 'number' && size > 0) return Math.min(16, size);
  }
  return 8;
}

/**
 * Fixed inputs for one component, shaped from the session's own metadata: symbolic batch = 1,
 * sequence = 77, latent side = the UNet's sample size capped at 16 (×8 for the VAE encoder's pixels).
 * Small shapes keep the check to a second or two even on a full-size UNet.
 */
export function checkFeeds(
  session: ort.InferenceSession,
  component: string,
  modelDir: string,
): Record<string, ort.Tensor> {
  const rnd = seeded(1234);
  const latent = latentSize(modelDir);
  const feeds: Record<string, ort.Tensor> = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) continue;
    const rank = meta.shape.length;
    const dims = meta.shape.map((d, i) => {
      if (typeof d === 'number' && d > 0) return d;
      if (i === 0) return 1;
      if (rank === 4 && i === 1) return component === 'vae_encoder' ? 3 : 4;
      if (rank === 4 && i >= 2) return component === 'vae_encoder' ? latent * 8 : latent;
      if (rank >= 2 && i === 1) return 77;
      return 1;
    });
    const n = dims.reduce((a, b) => a * b, 1);
    const name = meta.name;
    if (name === 'input_ids') {
      const vocab = vocabSize(modelDir);
      const ids = Array.from({ length: n }, (_, i) =>
        i % 77 === 0 ? vocab - 2 : i % 77 < 6 ? 1 + Math.floor(rnd() * (vocab - 3)) : vocab - 1,
      );
      feeds[name] =
        meta.type === 'int32'
          ? new ort.Tensor('int32', Int32Array.from(ids), dims)
          : new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), dims);
      continue;
    }
    if (name === 'timestep' || name === 'timesteps') {
      feeds[name] =
        meta.type === 'int64'
          ? new ort.Tensor('int64', new BigInt64Array(n).fill(500n), dims)
          : floatFeed(meta.type, new Float32Array(n).fill(500), dims);
      continue;
    }
    if (name === 'time_ids') {
      const side = latent * 8;
      const row = [side, side, 0, 0, side, side].slice(0, dims[dims.length - 1]);
      feeds[name] = floatFeed(
        meta.type,
        Float32Array.from({ length: n }, (_, i) => row[i % row.length]),
        dims,
      );
      continue;
    }
    const scale = component === 'vae_encoder' ? 0.5 : 1;
    feeds[name] = floatFeed(meta.type, gaussian(n, rnd, scale), dims);
  }
  return feeds;
}

function floatFeed(type: string, values: Float32Array, dims: number[]): ort.Tensor {
  if (type === 'float16') {
    // onnxruntime-node takes float16 as its raw bits in a Uint16Array.
    return new ort.Tensor('float16', Uint16Array.from(values, floatToHalf), dims);
  }
  return new ort.Tensor('float32', values, dims);
}

function asFloats(t: ort.Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') {
    const raw = t.data as Uint16Array;
    return Float32Array.from(raw, (h) => halfToFloat(h));
  }
  return Float32Array.from(t.data as ArrayLike<number>, Number);
}

/** Runs a component `times` times on the check's fixed inputs, in one session. */
async function runOnce(
  file: string,
  component: string,
  modelDir: string,
  times = 1,
): Promise<Float32Array[][]> {
  const session = await ort.InferenceSession.create(file, {
    executionProviders: ['cpu'],
    logSeverityLevel: 3,
  });
  try {
    const feeds = checkFeeds(session, component, modelDir);
    const runs: Float32Array[][] = [];
    for (let i = 0; i < times; i++) {
      const result = await session.run(feeds);
      const names = session.outputNames.filter((n) => result[n].type !== 'int64');
      runs.push(names.map((n) => asFloats(result[n])));
    }
    return runs;
  } finally {
    await session.release();
  }
}

export function compareOutputs(reference: Float32Array[], candidate: Float32Array[]): CheckFigures {
  let dot = 0;
  let na = 0;
  let nb = 0;
  let maxAbsDiff = 0;
  let nanCount = 0;
  let elements = 0;
  reference.forEach((a, k) => {
    const b = candidate[k];
    for (let i = 0; i < a.length; i++) {
      const y = b[i];
      if (!Number.isFinite(y)) {
        nanCount++;
        continue;
      }
      dot += a[i] * y;
      na += a[i] * a[i];
      nb += y * y;
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i] - y));
    }
    elements += a.length;
  });
  const cosine = na === 0 && nb === 0 ? 1 : dot / Math.sqrt(na * nb || 1);
  return { cosine, maxAbsDiff, nanCount, elements, deterministic: true };
}

/**
 * Loads the source and the transformed component one after the other (never both resident), runs
 * each on the same fixed inputs and compares every floating-point output.
 */
export async function checkComponent(
  sourceFile: string,
  variantFile: string,
  component: string,
  modelDir: string,
): Promise<CheckFigures> {
  const [reference, again] = await runOnce(sourceFile, component, modelDir, 2);
  const deterministic = compareOutputs(reference, again).maxAbsDiff === 0;
  let candidate: Float32Array[];
  try {
    [candidate] = await runOnce(variantFile, component, modelDir);
  } catch (e) {
    throw new StudioError(
      `the transformed ${component} does not load or run in ONNX Runtime: ${(e as Error).message}`,
      'failed',
    );
  }
  return { ...compareOutputs(reference, candidate), deterministic };
}

/**
 * The feature-cache pair's own check: the shallow UNet, fed the cached feature that the full UNet
 * computed on the same inputs, must give the full UNet's output (at a full step the cache is
 * exact, so anything but float rounding means the cut dropped a node the output needs).
 */
export async function checkShallowUnet(
  fullFile: string,
  shallowFile: string,
  modelDir: string,
): Promise<CheckFigures> {
  const full = await ort.InferenceSession.create(fullFile, {
    executionProviders: ['cpu'],
    logSeverityLevel: 3,
  });
  let feeds: Record<string, ort.Tensor>;
  let reference: Float32Array;
  let feature: ort.Tensor;
  try {
    feeds = checkFeeds(full, 'unet', modelDir);
    const out = await full.run(feeds);
    const sampleName = full.outputNames.find((n) => n !== 'cached_feature') ?? 'out_sample';
    reference = Float32Array.from(asFloats(out[sampleName]));
    feature = out.cached_feature;
    if (!feature) throw new StudioError(`${fullFile} has no cached_feature output`, 'failed');
  } finally {
    await full.release();
  }
  let candidate: Float32Array;
  try {
    const shallow = await ort.InferenceSession.create(shallowFile, {
      executionProviders: ['cpu'],
      logSeverityLevel: 3,
    });
    try {
      const out = await shallow.run({ ...feeds, cached_feature: feature });
      candidate = asFloats(out[shallow.outputNames[0]]);
    } finally {
      await shallow.release();
    }
  } catch (e) {
    if (e instanceof StudioError) throw e;
    throw new StudioError(
      `the shallow UNet does not load or run in ONNX Runtime: ${(e as Error).message}`,
      'failed',
    );
  }
  return compareOutputs([reference], [candidate]);
}
