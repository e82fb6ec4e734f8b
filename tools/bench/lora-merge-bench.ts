import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildVariant } from '../../src/main/optimize/build-variant';
import { indexSites, type WeightSite } from '../../src/main/optimize/lora-merge';
import { OnnxModel } from '../../src/main/optimize/onnx-model';
import { encodeSafetensors } from '../../src/main/optimize/safetensors';
import { arg } from './bench-util';

/**
 * `npx tsx tools/bench/lora-merge-bench.ts --model /work/sd15-random [--rank 64] [--out DIR]`: the
 * LoRA merge on a full-size SD 1.5 UNet. Writes a random LoRA with the shapes of the public
 * LCM-LoRA for SD 1.5 (kohya keys, rank 64 on every attention q/k/v/out and feed-forward Linear,
 * the transformer proj_in/proj_out, ResNet conv1/conv2/conv_shortcut and time_emb_proj, and the
 * down/up-sampling convs), keyed by the model's own module paths; then builds the `lora` variant
 * through the normal build path (merge, write, self-check in ONNX Runtime) and prints the merge
 * time and peak memory from its manifest as one JSON object.
 */
const modelDir = arg('model', '/work/sd15-random');
const rank = Number(arg('rank', '64'));
const outRoot = arg('out', mkdtempSync(join(tmpdir(), 'ls-lora-bench-')));
const TARGETS =
  /(to_q|to_k|to_v|to_out(\.0)?|ff\.(proj|out|net\.0\.proj|net\.2)|proj_in|proj_out|conv1|conv2|conv_shortcut|time_emb_proj|downsample\.conv|upsample\.conv|downsamplers\.0\.conv|upsamplers\.0\.conv)$/;

function gaussian(n: number, scale: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++)
    out[i] = scale * Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd());
  return out;
}

// One key per site: the longest (most complete) dotted path that names it uniquely.
const model = OnnxModel.read(join(modelDir, 'unet', 'model.onnx'));
const best = new Map<WeightSite, string>();
for (const [path, site] of indexSites(model)) {
  const prev = best.get(site);
  if (!prev || path.length > prev.length) best.set(site, path);
}
model.close();
const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
let params = 0;
let seed = 1;
for (const [site, path] of best) {
  if (!TARGETS.test(path)) continue;
  const key = `lora_unet_${path.replace(/\./g, '_')}`;
  const downShape =
    site.layout === 'conv'
      ? [rank, site.fanIn / (site.kernel[0] * site.kernel[1]), ...site.kernel]
      : [rank, site.fanIn];
  const upShape = site.layout === 'conv' ? [site.out, rank, 1, 1] : [site.out, rank];
  tensors[`${key}.lora_down.weight`] = {
    shape: downShape,
    data: gaussian(rank * site.fanIn, 1 / Math.sqrt(site.fanIn), seed++),
  };
  tensors[`${key}.lora_up.weight`] = {
    shape: upShape,
    data: gaussian(site.out * rank, 0.01, seed++),
  };
  tensors[`${key}.alpha`] = { shape: [], data: Float32Array.from([rank]) };
  params += rank * (site.fanIn + site.out);
}
const loraFile = join(outRoot, 'random-lcm-shaped.safetensors');
writeFileSync(loraFile, encodeSafetensors(tensors, { note: 'random, LCM-LoRA SD1.5 shapes' }));
const modules = Object.keys(tensors).length / 3;

const out = join(outRoot, 'sd15--lora');
const t0 = performance.now();
const { manifest } = await buildVariant(modelDir, 'lora', out, {
  loras: [{ path: loraFile, scale: 1 }],
});
const totalMs = performance.now() - t0;
console.log(
  JSON.stringify({
    cpu: cpus()[0]?.model,
    model: modelDir,
    rank,
    modules,
    loraParams: params,
    loraFileMb: Math.round(statSync(loraFile).size / 2 ** 20),
    loraMergeMs: manifest.loraMergeMs,
    unetMs: manifest.components.unet.ms,
    unetCheckMs: manifest.components.unet.checkMs,
    buildTotalMs: Math.round(totalMs),
    transformPeakRssMb: manifest.transformPeakRssMb,
    peakRssMb: manifest.peakRssMb,
    check: manifest.components.unet.check,
  }),
);
if (!process.argv.includes('--keep')) rmSync(outRoot, { recursive: true, force: true });
