/** Table and argument helpers shared by the benchmark scripts (not by the app). */
export { stats } from '../../src/main/bench/stats';
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { checkFeeds } from '../../src/main/optimize/self-check';
import type { PipelineRequest } from '../../src/main/engine/protocol';

/** The CPU flags that decide which kernels ONNX Runtime runs, for every benchmark table's header. */
export function cpuFlags(): string {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const line = text.split('\n').find((l) => l.startsWith('flags')) ?? '';
    const want = ['avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'amx_int8', 'f16c'];
    return (
      want.filter((f) => line.split(/\s+/).includes(f)).join(' ') || 'none of avx2/avx512/vnni/amx'
    );
  } catch {
    return 'unknown';
  }
}
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) =>
    r.map((c) => (typeof c === 'number' ? c.toFixed(c >= 100 ? 0 : 3) : c)),
  );
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...cells.map((r) => String(r[i]).length)),
  );
  const line = (r: (string | number)[]) =>
    `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [
    line(headers),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...cells.map(line),
  ].join('\n');
}

export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** The benchmarks' fixed request: one prompt, seed 1, batch 1, CPU, no previews unless asked. */
export function benchRequest(
  modelDir: string,
  steps: number,
  guidance: number,
  previewEvery = 0,
): PipelineRequest {
  return {
    modelDir,
    prompt: 'a red circle on a blue background',
    negativePrompt: '',
    seed: 1,
    batch: 1,
    ep: 'cpu',
    steps,
    guidance,
    previewEvery,
  };
}

/** Pipeline hooks for runs nobody watches. */
export const quietHooks = { onProgress: (): void => {}, isCancelled: (): boolean => false };

/** The 16-prompt tiny-shapes grid (the forge's evaluation prompts): full sentences and short ones. */
export const GRID_PROMPTS: readonly string[] = [
  'a red circle on a blue background',
  'a green square on a white background',
  'a yellow star on a purple background',
  'a blue triangle on an orange background',
  'a white circle on a black background',
  'a purple square on a yellow background',
  'an orange star on a green background',
  'a black triangle on a white background',
  'a blue circle on a red background',
  'a red square on a green background',
  'a white star on a blue background',
  'a yellow triangle on a black background',
  'red circle',
  'green star',
  'blue square',
  'orange triangle',
];

/** The machine line every benchmark table carries: CPU, its flags, memory, Node, ORT, when. */
export function machineLine(): string {
  return `${cpus()[0]?.model ?? 'cpu'} x${cpus().length} (${cpuFlags()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}, ORT ${ort.env.versions.common}, ${new Date().toISOString()}`;
}

/**
 * Loads sessions that take turns in one process, timing each load. Their idle threads sleep:
 * one session's spin-waiting threads would take the CPU from the next one's run.
 */
export function turnTakingLoader(threads: number) {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    logSeverityLevel: 3,
    extra: { session: { 'intra_op.allow_spinning': '0', 'inter_op.allow_spinning': '0' } },
  };
  return async (file: string): Promise<{ s: ort.InferenceSession; ms: number }> => {
    const t0 = performance.now();
    const s = await ort.InferenceSession.create(file, options);
    return { s, ms: performance.now() - t0 };
  };
}

/**
 * A UNet's inputs at a person's size: `rows` rows (2 = one CFG step), a `latent` x `latent`
 * sample, one timestep for the whole batch where the export takes one.
 */
export function sizedUnetFeeds(
  session: ort.InferenceSession,
  modelDir: string,
  rows: number,
  latent: number,
): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(checkFeeds(session, 'unet', modelDir))) {
    const dims = [...t.dims];
    if (dims.length >= 1 && (name !== 'timestep' || dims[0] !== 1)) dims[0] = rows;
    if (name === 'sample') [dims[2], dims[3]] = [latent, latent];
    const n = dims.reduce((a, b) => a * b, 1);
    const data =
      t.type === 'int64'
        ? new BigInt64Array(n).fill(500n)
        : Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
    out[name] = new ort.Tensor(t.type as 'float32', data as Float32Array, dims);
  }
  return out;
}
