/** Table and argument helpers shared by the benchmark scripts (not by the app). */
export { stats } from '../../src/main/bench/stats';
import { readFileSync } from 'node:fs';
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
