import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { cpus } from 'node:os';
import { readModelInfo } from '../../src/main/engine/model-loader';
import { ModelSessions } from '../../src/main/engine/model-sessions';
import { DEFAULT_RUN_CONFIG } from '../../src/main/engine/run-config';
import { runPipeline } from '../../src/main/engine/pipeline';
import { createScheduler, SCHEDULER_NAMES } from '../../src/main/engine/schedulers';
import { createNoise } from '../../src/main/engine/noise';
import { ModelRegistry } from '../../src/main/models/model-registry';
import { studioHome } from '../../src/main/paths';
import { arg, benchRequest, quietHooks, stats, table } from './bench-util';

/**
 * `npm run bench:engine`: figures for the engine, measured side by side in one run (never a test).
 * (a) pipeline overhead = timings.total / timings.ort, (b) tokenizer and scheduler cost,
 * (c) resident vs sequential residency, (d) onnxruntime-node vs onnxruntime-web (wasm) on the UNet.
 */
const modelName = arg('model', 'tiny-shapes');
const steps = Number(arg('steps', '20'));
const guidance = Number(arg('guidance', '7.5'));
const repeats = Number(arg('repeats', '10'));
const dir = new ModelRegistry(studioHome()).resolve(modelName).dir;
const info = await readModelInfo(dir);
const hooks = quietHooks;
const request = (previewEvery: number) => benchRequest(dir, steps, guidance, previewEvery);

console.log(`# Engine benchmark — ${modelName}, ${steps} steps, guidance ${guidance}, CPU`);
console.log(
  `${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, Node ${process.versions.node}, ${new Date().toISOString()}\n`,
);

// (a) Overhead.
const sessions = new ModelSessions(info, DEFAULT_RUN_CONFIG);
for (let i = 0; i < 2; i++) await runPipeline(sessions, request(0), hooks);
const rows: (string | number)[][] = [];
for (const previewEvery of [0, 1]) {
  const ratios: number[] = [];
  const totals: number[] = [];
  const orts: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const r = await runPipeline(sessions, request(previewEvery), hooks);
    ratios.push(r.timings.total / r.timings.ort);
    totals.push(r.timings.total);
    orts.push(r.timings.ort);
  }
  rows.push([
    previewEvery ? 'with a latent preview every step' : 'no previews',
    stats(totals).mean,
    stats(orts).mean,
    stats(ratios).mean,
    stats(ratios).median,
  ]);
}
console.log('## (a) Overhead: pipeline wall time / time inside session.run (target <= 1.03)\n');
console.log(table(['mode', 'total ms', 'ort ms', 'ratio mean', 'ratio median'], rows));
await sessions.releaseAll();

// (b) Tokenizer and scheduler steps.
const prompts = [
  'a red circle on a blue background',
  'green star',
  'a purple triangle on a yellow background, big',
];
let n = 0;
const tokStart = performance.now();
for (let i = 0; i < 20000; i++) n += info.tokenizer.encode(prompts[i % prompts.length]).ids.length;
const tokUs = ((performance.now() - tokStart) * 1000) / 20000;
const schedRows: (string | number)[][] = [];
for (const name of SCHEDULER_NAMES) {
  for (const [h, w] of [
    [8, 8],
    [64, 64],
  ]) {
    // The first loop warms the JIT; the fastest of the rest is reported, because on a shared
    // machine one descheduling of a few ms swamps a 256-value step.
    let us = Infinity;
    for (let round = 0; round < 11; round++) {
      const scheduler = createScheduler(name, info.schedulerConfig, 50);
      const noise = createNoise(1);
      let latents = noise.normal(4 * h * w);
      const eps = noise.normal(4 * h * w);
      const start = performance.now();
      for (const t of scheduler.timesteps) {
        scheduler.scaleModelInput(latents, t);
        latents = scheduler.step(eps, t, latents, noise.source).prevSample;
      }
      const perStep = ((performance.now() - start) * 1000) / scheduler.timesteps.length;
      if (round > 0) us = Math.min(us, perStep);
    }
    schedRows.push([name, `4x${h}x${w}`, us]);
  }
}
console.log(`\n## (b) Tokenizer: ${tokUs.toFixed(2)} µs per prompt (warm BPE cache, ${n} ids)\n`);
console.log(table(['scheduler', 'latents', 'µs per step (scale + step), best of 10'], schedRows));

// (c) Residency, each mode in its own process so peak RSS is its own.
const residencyRows: (string | number)[][] = [];
for (const mode of ['resident', 'sequential']) {
  const out = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(import.meta.dirname, 'residency-child.ts'),
      '--mode',
      mode,
      '--model',
      dir,
      '--steps',
      String(steps),
      '--repeats',
      '5',
    ],
    { encoding: 'utf8' },
  );
  const r = JSON.parse(out.trim().split('\n').pop() as string) as {
    latency: { mean: number; std: number };
    peakRssMb: number;
  };
  residencyRows.push([mode, r.latency.mean, r.latency.std, r.peakRssMb]);
}
console.log('\n## (c) Residency\n');
console.log(table(['residency', 'latency ms', 'std', 'peak RSS MiB'], residencyRows));

// (d) onnxruntime-node vs onnxruntime-web (wasm in Node) on the UNet loop of one generation.
const unetFile = join(dir, 'unet', 'model.onnx');
const nodeSession = await ortNode.InferenceSession.create(unetFile, { intraOpNumThreads: 1 });
ortWeb.env.wasm.numThreads = 1;
// The wasm runtime cannot read files next to the model by itself: hand it the external weights.
const externalData = ['weights.pb', 'model.onnx_data']
  .filter((f) => existsSync(join(dir, 'unet', f)))
  .map((f) => ({ path: f, data: join(dir, 'unet', f) }));
const webSession = await ortWeb.InferenceSession.create(unetFile, {
  executionProviders: ['wasm'],
  externalData,
});
const meta = nodeSession.inputMetadata.find((m) => m.name === 'encoder_hidden_states');
const shape = meta?.isTensor ? meta.shape : [];
const seq = typeof shape[1] === 'number' ? shape[1] : 77;
const dim = typeof shape[2] === 'number' ? shape[2] : 32;
const lat = info.nativeSize / 8;
const noise = createNoise(3);
const sample = noise.normal(2 * 4 * lat * lat);
const hidden = noise.normal(2 * seq * dim);
async function loop(kind: 'node' | 'web'): Promise<number> {
  const T = kind === 'node' ? ortNode.Tensor : ortWeb.Tensor;
  const s = kind === 'node' ? nodeSession : webSession;
  const feeds = {
    sample: new T('float32', sample, [2, 4, lat, lat]),
    timestep: new T('float32', Float32Array.from([500, 500]), [2]),
    encoder_hidden_states: new T('float32', hidden, [2, seq, dim]),
  };
  const start = performance.now();
  for (let i = 0; i < steps; i++) await (s as ortNode.InferenceSession).run(feeds as never);
  return performance.now() - start;
}
await loop('node');
await loop('web');
const nodeTimes: number[] = [];
const webTimes: number[] = [];
for (let i = 0; i < 5; i++) {
  nodeTimes.push(await loop('node'));
  webTimes.push(await loop('web'));
}
const nodeMs = stats(nodeTimes).median;
const webMs = stats(webTimes).median;
console.log(
  `\n## (d) onnxruntime-node vs onnxruntime-web (wasm), UNet x${steps} CFG steps, 1 thread each\n`,
);
console.log(
  table(
    ['runtime', 'median ms', 'relative'],
    [
      ['onnxruntime-node (cpu)', nodeMs, 1],
      ['onnxruntime-web (wasm)', webMs, webMs / nodeMs],
    ],
  ),
);
