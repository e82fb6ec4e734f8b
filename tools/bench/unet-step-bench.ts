import * as ort from 'onnxruntime-node';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { checkFeeds } from '../../src/main/optimize/self-check';
import { arg, stats, table } from './bench-util';

/**
 * `npx tsx tools/bench/unet-step-bench.ts --a DIR --b DIR [--b DIR2 ...] [--latent 64] [--rounds 3]`
 * One UNet call (batch 2 = one CFG step) of each model folder, all sessions resident, called in
 * turn round after round (A B C, A B C, ...) so machine drift hits every model alike; the ratio is
 * taken per round, then its median. For when the whole-pipeline benchmark is too noisy to read.
 */
const dirs = process.argv.flatMap((a, i) =>
  a === '--a' || a === '--b' ? [process.argv[i + 1]] : [],
);
const latent = Number(arg('latent', '64'));
const rounds = Number(arg('rounds', '3'));
const threads = Number(arg('threads', '2'));
const sessions = [];
for (const dir of dirs) {
  const s = await ort.InferenceSession.create(join(dir, 'unet', 'model.onnx'), {
    intraOpNumThreads: threads,
    logSeverityLevel: 3,
  });
  sessions.push(s);
}
// Feeds at the full latent size (the self-check's own feeds are small): batch 2 for CFG.
const feeds = checkFeeds(sessions[0], 'unet', dirs[0]);
const sized: Record<string, ort.Tensor> = {};
for (const [name, t] of Object.entries(feeds)) {
  const dims = [...t.dims];
  if (dims.length >= 1 && name !== 'timestep') dims[0] = 2;
  if (name === 'sample') [dims[2], dims[3]] = [latent, latent];
  const n = dims.reduce((a, b) => a * b, 1);
  const data =
    t.type === 'int64'
      ? new BigInt64Array(n).fill(500n)
      : Float32Array.from({ length: n }, (_, i) => Math.sin(i));
  sized[name] = new ort.Tensor(t.type as 'float32', data as Float32Array, dims);
}
const times: number[][] = dirs.map(() => []);
for (let r = -1; r < rounds; r++) {
  for (const [i, s] of sessions.entries()) {
    const t0 = performance.now();
    await s.run(sized);
    if (r >= 0) times[i].push(performance.now() - t0);
  }
}
console.log(
  `UNet, batch 2 (one CFG step), latent ${latent}x${latent}, ${threads} threads, ${rounds} rounds after a warm-up; ${cpus()[0]?.model} x${cpus().length}\n`,
);
console.log(
  table(
    ['model', 'ms per call (median)', 'speed-up vs first (median of per-round ratios)'],
    dirs.map((d, i) => [
      d,
      stats(times[i]).median,
      stats(times[i].map((t, r) => times[0][r] / t)).median,
    ]),
  ),
);
