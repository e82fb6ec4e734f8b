import { readFileSync, readdirSync, statSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { EngineClient } from '../../src/main/engine/engine-client';
import { ModelRegistry } from '../../src/main/models/model-registry';
import { studioHome } from '../../src/main/paths';
import { runOptimizeJob } from '../../src/main/optimize/optimize-client';
import type { VariantManifest } from '../../src/main/optimize/build-variant';
import { staleReason, variantStorePath } from '../../src/main/optimize/variant-store';
import { compareImages } from '../../src/main/bench/quality';
import { arg, benchRequest, cpuFlags, stats, table } from './bench-util';

/**
 * `npm run bench:optimize -- [--model M] [--recipes a,b] [--size 512] [--steps 3] [--threads 2]`
 * Each optimizer variant against the fp32 source, side by side in one run (never a test): UNet
 * file size ratio, transform time and peak memory, session load, UNet ms per CFG step (first step
 * excluded as warm-up), peak RSS of the engine process while generating, the UNet self-check
 * cosine, and SSIM/PSNR of the image against the source's at the same seed. Every generation runs
 * in a fresh engine process so its peak memory is its own. Variants are rebuilt (--force) so the
 * transform figures are fresh.
 */
const modelName = arg('model', 'tiny-shapes');
function modelNameDefaultSteps(): string {
  return modelName === 'tiny-shapes' ? '25' : '3';
}
const recipes = arg(
  'recipes',
  'attention,int8-matmul,int8,int4,int8-dynamic,fp16-storage,mixed,fp16',
).split(',');
const steps = Number(arg('steps', modelNameDefaultSteps()));
const repeats = Number(arg('repeats', '1'));
const reuse = process.argv.includes('--reuse');
const threads = Number(arg('threads', '2'));
const home = studioHome();
const source = new ModelRegistry(home).resolve(modelName).dir;
const size = Number(arg('size', modelName === 'tiny-shapes' ? '64' : '512'));

const flags = cpuFlags();

function bytesOf(dir: string): number {
  return readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}

console.log(
  `# Optimizer benchmark — ${modelName}, ${size}x${size}, ${steps} steps (CFG 7.5), ${threads} threads, CPU`,
);
console.log(
  `${cpus()[0]?.model ?? 'cpu'} x${cpus().length} (${flags}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}, ${new Date().toISOString()}\n`,
);

interface Row {
  name: string;
  dir: string;
  unetBytes: number;
  transformS?: number;
  transformPeakMb?: number;
  cosine?: number;
}

const sourceUnet = bytesOf(join(source, 'unet'));
const rows: Row[] = [{ name: 'fp32 (source)', dir: source, unetBytes: sourceUnet }];
for (const recipe of recipes) {
  const out = variantStorePath(home, source, recipe);
  const t0 = performance.now();
  try {
    let m: VariantManifest;
    // --reuse measures variants already in the store (their transform figures come from the
    // manifest); otherwise every variant is rebuilt so the transform figures are fresh.
    if (reuse && !staleReason(out, source, recipe)) {
      m = JSON.parse(readFileSync(join(out, 'latent-studio.json'), 'utf8')) as VariantManifest;
    } else {
      process.stderr.write(`building ${recipe}...\n`);
      m = (await runOptimizeJob({ sourceDir: source, recipe, outDir: out, force: true })).manifest;
    }
    rows.push({
      name: recipe,
      dir: out,
      unetBytes: bytesOf(join(out, 'unet')),
      transformS: reuse ? m.transformMs / 1000 : (performance.now() - t0) / 1000,
      transformPeakMb: m.transformPeakRssMb,
      cosine: m.components.unet?.check?.cosine,
    });
  } catch (e) {
    console.log(`- ${recipe}: not built — ${(e as Error).message}`);
  }
}

const results: (string | number)[][] = [];
let reference: Uint8Array | undefined;
for (const row of rows) {
  process.stderr.write(`generating with ${row.name}...\n`);
  const engine = new EngineClient();
  try {
    const request = { ...benchRequest(row.dir, steps, 7.5), width: size, height: size, threads };
    // Warm-up: the first call pays session creation; then `repeats` measured calls.
    const first = await engine.run(`opt-${row.name}-0`, request, () => {});
    const perSteps = first.timings.unetPerStep.slice(1);
    let r = first;
    for (let i = 1; i <= repeats && repeats > 1; i++) {
      r = await engine.run(`opt-${row.name}-${i}`, request, () => {});
      perSteps.push(...r.timings.unetPerStep);
    }
    r = { ...r, timings: { ...r.timings, load: first.timings.load } };
    const s = await engine.stats();
    const perStep = stats(perSteps).median;
    const png = r.images[0].png;
    reference ??= png;
    const q = compareImages(reference, png);
    results.push([
      row.name,
      (row.unetBytes / 2 ** 20).toFixed(0),
      (row.unetBytes / sourceUnet).toFixed(3),
      row.transformS !== undefined ? row.transformS.toFixed(1) : '-',
      row.transformPeakMb !== undefined ? String(row.transformPeakMb) : '-',
      (r.timings.load / 1000).toFixed(2),
      perStep.toFixed(perStep >= 100 ? 0 : 1),
      '', // speed-up, filled in below
      s.maxRssMb.toFixed(0),
      row.cosine !== undefined ? row.cosine.toFixed(5) : '-',
      row === rows[0] ? '-' : `${q.ssim.toFixed(3)} / ${q.psnr.toFixed(1)}`,
    ]);
  } catch (e) {
    results.push([
      row.name,
      '-',
      '-',
      '-',
      '-',
      '-',
      `failed: ${(e as Error).message}`,
      '',
      '-',
      '-',
      '-',
    ]);
  } finally {
    await engine.close();
  }
}
// Speed-up per step against the source, filled in once every row is measured.
const base = Number(results[0][6]);
for (const r of results)
  r[7] = Number.isFinite(Number(r[6])) ? (base / Number(r[6])).toFixed(2) : '-';
console.log(
  table(
    [
      'variant',
      'UNet MiB',
      'size vs source',
      'transform s',
      'transform peak RSS MiB',
      'session load s',
      'UNet ms / CFG step',
      'speed-up / step',
      'generate peak RSS MiB',
      'UNet cosine',
      'SSIM / PSNR dB vs fp32',
    ],
    results,
  ),
);
