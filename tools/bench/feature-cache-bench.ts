import * as ort from 'onnxruntime-node';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { prepareVariant } from '../../src/main/bench/variants';
import { ModelRegistry } from '../../src/main/models/model-registry';
import { studioHome } from '../../src/main/paths';
import { checkFeeds } from '../../src/main/optimize/self-check';
import { fullSteps, guidedStep } from '../../src/main/engine/feature-cache-schedule';
import { arg, cpuFlags, stats, table } from './bench-util';

/**
 * `npm run bench:feature-cache -- [--model DIR|NAME] [--latent 64] [--rounds 3] [--steps 25]`
 *
 * What feature caching and guidance truncation save on a model's UNet, measured side by side in
 * one process: the source UNet, the feature-cache pair's full UNet (the source plus one output)
 * and its shallow UNet, each at batch 2 (one CFG step) and batch 1 (a step outside the guidance
 * interval), all resident, called in turn round after round (forwards, then backwards) so drift
 * hits each alike. The UNet time of a whole image is then composed per round from the schedule
 * each recipe runs, and the ratio against the source's reported as the median of the rounds with
 * their range. It measures the UNet only: the text encoder and VAE are the same for every recipe
 * here, so the per-image figure is the bench's (`bench --recipes feature-cache-5`).
 */
const modelArg = arg('model', 'tiny-shapes');
const latent = Number(arg('latent', modelArg === 'tiny-shapes' ? '8' : '64'));
const rounds = Number(arg('rounds', '3'));
const steps = Number(arg('steps', '25'));
const threads = Number(arg('threads', '2'));
const home = studioHome();
const source = new ModelRegistry(home).resolve(modelArg).dir;

console.log(
  `# Feature cache and guidance truncation — ${modelArg}, latent ${latent}x${latent} (${latent * 8}px), ${steps} steps, ${threads} threads, CPU`,
);
console.log(
  `${cpus()[0]?.model ?? 'cpu'} x${cpus().length} (${cpuFlags()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}, ORT ${ort.env.versions.common}, ${new Date().toISOString()}\n`,
);

const tBuild = performance.now();
const variant = await prepareVariant(source, 'feature-cache', undefined, home);
console.log(`variant: ${variant} (ready in ${((performance.now() - tBuild) / 1000).toFixed(1)} s)`);

// Three sessions take turns here: idle threads that spin-wait would take the CPU from the next one.
const options: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: threads,
  logSeverityLevel: 3,
  extra: { session: { 'intra_op.allow_spinning': '0', 'inter_op.allow_spinning': '0' } },
};
const load = async (file: string) => {
  const t0 = performance.now();
  const s = await ort.InferenceSession.create(file, options);
  return { s, ms: performance.now() - t0 };
};
const src = await load(join(source, 'unet', 'model.onnx'));
const full = await load(join(variant, 'unet', 'model.onnx'));
const shallow = await load(join(variant, 'unet_shallow', 'model.onnx'));
console.log(
  `session load: source ${src.ms.toFixed(0)} ms, full ${full.ms.toFixed(0)} ms, shallow ${shallow.ms.toFixed(0)} ms\n`,
);

/** Feeds at the person's size for `rows` rows (2 = one CFG step). */
function feedsFor(rows: number): Record<string, ort.Tensor> {
  const base = checkFeeds(src.s, 'unet', source);
  const out: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(base)) {
    const dims = [...t.dims];
    const batched = name !== 'timestep' || (dims.length === 1 && dims[0] !== 1);
    if (dims.length >= 1 && batched) dims[0] = rows;
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

const feeds = { 2: feedsFor(2), 1: feedsFor(1) };
const cached = {
  2: (await full.s.run(feeds[2])).cached_feature,
  1: (await full.s.run(feeds[1])).cached_feature,
};
const only = (s: ort.InferenceSession, f: Record<string, ort.Tensor>) =>
  Object.fromEntries(Object.entries(f).filter(([k]) => s.inputNames.includes(k)));
const kinds = {
  'source b2': () => src.s.run(feeds[2]),
  'full b2': () => full.s.run(feeds[2]),
  'shallow b2': () => shallow.s.run(only(shallow.s, { ...feeds[2], cached_feature: cached[2] })),
  'source b1': () => src.s.run(feeds[1]),
  'shallow b1': () => shallow.s.run(only(shallow.s, { ...feeds[1], cached_feature: cached[1] })),
} as const;
type Kind = keyof typeof kinds;
const names = Object.keys(kinds) as Kind[];

// One warm-up call each (the first run of a session grows its arena).
for (const k of names) await kinds[k]();
const times: Record<Kind, number[]> = Object.fromEntries(names.map((k) => [k, []])) as never;
for (let r = 0; r < rounds; r++) {
  for (const k of r % 2 === 0 ? names : [...names].reverse()) {
    const t0 = performance.now();
    await kinds[k]();
    times[k].push(performance.now() - t0);
  }
}

console.log(
  table(
    ['UNet call', 'median ms', 'min', 'max', 'share of source b2'],
    names.map((k) => {
      const s = stats(times[k]);
      return [
        k,
        s.median,
        Math.min(...times[k]),
        Math.max(...times[k]),
        s.median / stats(times['source b2']).median,
      ];
    }),
  ),
);

/** A recipe's UNet time for one image in round r, from the schedule it runs. */
function composed(r: number, interval: number, guidance?: { start: number; end: number }): number {
  const full = fullSteps(steps, { interval, schedule: 'uniform' });
  let ms = 0;
  for (let i = 0; i < steps; i++) {
    const rows = guidedStep(i, steps, guidance) ? 'b2' : 'b1';
    const cachedStep = interval > 1 && !full.has(i);
    const kind: Kind = cachedStep
      ? (`shallow ${rows}` as Kind)
      : rows === 'b2'
        ? interval > 1
          ? 'full b2'
          : 'source b2'
        : 'source b1';
    ms += times[kind][r];
  }
  return ms;
}

const truncate = { start: 0, end: 0.7 };
const recipes: [string, number, { start: number; end: number } | undefined][] = [
  ['baseline', 1, undefined],
  ['feature-cache-2', 2, undefined],
  ['feature-cache-3', 3, undefined],
  ['feature-cache-5', 5, undefined],
  ['cfg-truncate', 1, truncate],
  ['feature-cache-3+cfg-truncate', 3, truncate],
  ['feature-cache-5+cfg-truncate', 5, truncate],
];
console.log(
  `\nUNet time per ${steps}-step image, composed per round from the calls above (cfg-truncate: guidance in [0, 0.7) of the steps); speed-up = baseline / recipe, median of ${rounds} rounds [min-max]\n`,
);
console.log(
  table(
    ['recipe', 'full UNet calls', 'UNet s / image', 'speed-up', 'range'],
    recipes.map(([name, interval, g]) => {
      const per = Array.from({ length: rounds }, (_, r) => composed(r, interval, g));
      const ratios = per.map((ms, r) => composed(r, 1) / ms);
      const fulls = interval > 1 ? fullSteps(steps, { interval }).size : steps;
      return [
        name,
        fulls,
        stats(per).median / 1000,
        `${stats(ratios).median.toFixed(2)}x`,
        `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`,
      ];
    }),
  ),
);
await Promise.all([src.s.release(), full.s.release(), shallow.s.release()]);
