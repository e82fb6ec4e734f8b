import * as ort from 'onnxruntime-node';
import { join } from 'node:path';
import { prepareVariant } from '../../src/main/bench/variants';
import { ModelRegistry } from '../../src/main/models/model-registry';
import { studioHome } from '../../src/main/paths';
import { fullSteps, guidedStep } from '../../src/main/engine/feature-cache-schedule';
import { arg, machineLine, sizedUnetFeeds, stats, table, turnTakingLoader } from './bench-util';

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
console.log(`${machineLine()}\n`);

const tBuild = performance.now();
const variant = await prepareVariant(source, 'feature-cache', undefined, home);
console.log(`variant: ${variant} (ready in ${((performance.now() - tBuild) / 1000).toFixed(1)} s)`);

const load = turnTakingLoader(threads);
const src = await load(join(source, 'unet', 'model.onnx'));
const full = await load(join(variant, 'unet', 'model.onnx'));
const shallow = await load(join(variant, 'unet_shallow', 'model.onnx'));
console.log(
  `session load: source ${src.ms.toFixed(0)} ms, full ${full.ms.toFixed(0)} ms, shallow ${shallow.ms.toFixed(0)} ms\n`,
);

const feeds = {
  2: sizedUnetFeeds(src.s, source, 2, latent),
  1: sizedUnetFeeds(src.s, source, 1, latent),
};
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
