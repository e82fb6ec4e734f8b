import { join } from 'node:path';
import { staticShapesFile } from '../../src/main/engine/static-shapes';
import { ModelRegistry } from '../../src/main/models/model-registry';
import { studioHome } from '../../src/main/paths';
import { arg, machineLine, sizedUnetFeeds, stats, table, turnTakingLoader } from './bench-util';

/**
 * `npm run bench:static-shapes -- [--model DIR|NAME] [--latent 64] [--rounds 5]`
 *
 * The static-shapes recipe's UNet against the source's, side by side in one process: the same
 * graph with its symbolic input sizes fixed (static-shapes.ts), both sessions resident, one CFG
 * call (batch 2) each in turn, round after round (forwards, then backwards). Reported: each
 * session's load and call time, and the per-round ratio's median with its range.
 */
const modelArg = arg('model', 'tiny-shapes');
const latent = Number(arg('latent', modelArg === 'tiny-shapes' ? '8' : '64'));
const rounds = Number(arg('rounds', '5'));
const threads = Number(arg('threads', '2'));
const home = studioHome();
const source = new ModelRegistry(home).resolve(modelArg).dir;
const file = join(source, 'unet', 'model.onnx');

console.log(
  `# Static shapes — ${modelArg}, latent ${latent}x${latent} (${latent * 8}px), CFG batch 2, ${threads} threads, CPU`,
);
console.log(`${machineLine()}\n`);

const load = turnTakingLoader(threads);
const dynamic = await load(file);
const feeds = sizedUnetFeeds(dynamic.s, source, 2, latent);
// Exactly the sizes these feeds have, as the engine fixes them for a generation.
const dims = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, [...t.dims]]));
const tWrite = performance.now();
const written = staticShapesFile(file, dims, home);
const writeMs = performance.now() - tWrite;
const fixed = await load(written.file);
console.log(`fixed: ${written.fixed.join(', ')} (copy written in ${writeMs.toFixed(0)} ms)`);
console.log(
  `session load: dynamic ${dynamic.ms.toFixed(0)} ms, static ${fixed.ms.toFixed(0)} ms\n`,
);

const sessions = { dynamic: dynamic.s, static: fixed.s };
const names = ['dynamic', 'static'] as const;
for (const k of names) await sessions[k].run(feeds);
const times = { dynamic: [] as number[], static: [] as number[] };
for (let r = 0; r < rounds; r++) {
  for (const k of r % 2 === 0 ? names : [...names].reverse()) {
    const t0 = performance.now();
    await sessions[k].run(feeds);
    times[k].push(performance.now() - t0);
  }
}
const ratios = times.dynamic.map((t, r) => t / times.static[r]);
console.log(
  table(
    ['UNet call', 'median ms', 'min', 'max'],
    names.map((k) => [k, stats(times[k]).median, Math.min(...times[k]), Math.max(...times[k])]),
  ),
);
console.log(
  `\nspeed-up of static shapes (dynamic / static, per round): ${stats(ratios).median.toFixed(3)}x [${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)}] over ${rounds} rounds`,
);
await Promise.all([dynamic.s.release(), fixed.s.release()]);
