import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildVariant } from '../../src/main/optimize/build-variant';
import {
  indexSites,
  mergeLoras,
  readLoras,
  type WeightSite,
} from '../../src/main/optimize/lora-merge';
import {
  openUpDownKernel,
  type UpDownKernel,
  type WeightLayout,
} from '../../src/main/optimize/lora-product';
import { OnnxModel } from '../../src/main/optimize/onnx-model';
import { encodeSafetensors } from '../../src/main/optimize/safetensors';
import { arg } from './bench-util';

/**
 * `npx tsx tools/bench/lora-merge-bench.ts --model /work/sd15-random [--rank 64] [--limit N]
 *   [--kernels before,js,onnxruntime] [--threads 1] [--build] [--out DIR] [--keep]`
 *
 * The LoRA merge on a full-size SD 1.5 UNet. Writes a random LoRA with the shapes of the public
 * LCM-LoRA for SD 1.5 (kohya keys, rank 64 on every attention q/k/v/out and feed-forward Linear,
 * the transformer proj_in/proj_out, ResNet conv1/conv2/conv_shortcut and time_emb_proj, and the
 * down/up-sampling convs), keyed by the model's own module paths (`--limit N`: the first N only,
 * for a quick run). Then, side by side in one run, each kernel merges and writes the UNet in its
 * own child process (so each peak RSS is its own): `before` is the merge's earlier JavaScript loop
 * (float64 accumulation over four rank rows, a materialised delta, transposed add for [in, out]
 * weights), `js` the blocked loop that is now the fallback, `onnxruntime` the GEMM the merge uses.
 * `--build` also builds the `lora` variant through the normal build path (merge, write, self-check
 * in ONNX Runtime, ONNX Runtime's default threads), as a person's build runs it, in its own
 * process too. Prints one JSON object.
 */
const modelDir = arg('model', '/work/sd15-random');
const rank = Number(arg('rank', '64'));
const limit = Number(arg('limit', '0'));
const threads = Number(arg('threads', '1'));
const child = arg('child', '');

/** The merge's loop before ONNX Runtime's GEMM (commit 7e329a7), kept here as the baseline. */
class BeforeKernel implements UpDownKernel {
  readonly name = 'before';
  addUpDown(
    w: Float32Array,
    layout: WeightLayout,
    up: Float32Array,
    down: Float32Array,
    out: number,
    rank: number,
    fanIn: number,
    factor: number,
  ): Float32Array {
    const delta = new Float32Array(out * fanIn);
    const acc = new Float64Array(fanIn);
    for (let o = 0; o < out; o++) {
      acc.fill(0);
      const u = o * rank;
      let r = 0;
      for (; r + 4 <= rank; r += 4) {
        const [u0, u1, u2, u3] = [up[u + r], up[u + r + 1], up[u + r + 2], up[u + r + 3]];
        const b0 = r * fanIn;
        const b1 = b0 + fanIn;
        const b2 = b1 + fanIn;
        const b3 = b2 + fanIn;
        for (let i = 0; i < fanIn; i++)
          acc[i] += u0 * down[b0 + i] + u1 * down[b1 + i] + u2 * down[b2 + i] + u3 * down[b3 + i];
      }
      for (; r < rank; r++) {
        const ur = up[u + r];
        const b = r * fanIn;
        for (let i = 0; i < fanIn; i++) acc[i] += ur * down[b + i];
      }
      const row = o * fanIn;
      for (let i = 0; i < fanIn; i++) delta[row + i] += factor * acc[i];
    }
    if (layout === 'in-out') {
      for (let o = 0; o < out; o++) {
        const row = o * fanIn;
        for (let i = 0; i < fanIn; i++) w[i * out + o] += delta[row + i];
      }
    } else {
      for (let i = 0; i < w.length; i++) w[i] += delta[i];
    }
    return w;
  }
  close(): void {}
}

interface ChildResult {
  kernel: string;
  fallbackReason?: string;
  threads: number;
  /** Reading the graph, mapping the keys (mergeLoras itself). */
  mapMs: number;
  /** Writing the UNet, the merged weights computed on the way. */
  writeMs: number;
  /** Of which in the up·down products. */
  productMs: number;
  totalMs: number;
  peakRssMb: number;
  weights: number;
  writtenMb: number;
}

const peakRssMb = (): number => Math.round(process.resourceUsage().maxRSS / 1024);

if (child === 'build') {
  // The build as a person runs it (merge, write, self-check), in a fresh process so its peak RSS
  // is the build's own and not the LoRA this script generated.
  const out = arg('out', '');
  const t0 = performance.now();
  const { manifest } = await buildVariant(modelDir, 'lora', out, {
    loras: [{ path: arg('lora', ''), scale: 1 }],
  });
  const result = {
    loraMergeMs: manifest.loraMergeMs,
    unetMs: manifest.components.unet.ms,
    unetCheckMs: manifest.components.unet.checkMs,
    buildTotalMs: Math.round(performance.now() - t0),
    transformPeakRssMb: manifest.transformPeakRssMb,
    peakRssMb: manifest.peakRssMb,
    check: manifest.components.unet.check,
  };
  rmSync(out, { recursive: true, force: true });
  console.log(JSON.stringify(result));
  process.exit(0);
} else if (child) {
  // One kernel, one process: read, merge, write; report on stdout's last line.
  const loraFile = arg('lora', '');
  const out = arg('out', '');
  const t0 = performance.now();
  const model = OnnxModel.read(join(modelDir, 'unet', 'model.onnx'));
  const kernel: UpDownKernel =
    child === 'before'
      ? new BeforeKernel()
      : openUpDownKernel(child === 'js' ? 'js' : 'onnxruntime', { threads });
  const report = mergeLoras(model, 'unet', readLoras([{ path: loraFile, scale: 1 }]), { kernel });
  const t1 = performance.now();
  mkdirSync(out, { recursive: true });
  const { dataBytes } = model.write(out);
  const t2 = performance.now();
  model.close();
  kernel.close();
  const result: ChildResult = {
    kernel: kernel.name,
    fallbackReason: kernel.fallbackReason,
    threads: kernel.name === 'onnxruntime' ? threads : 1,
    mapMs: Math.round(t1 - t0),
    writeMs: Math.round(t2 - t1),
    productMs: Math.round(report.stats.productMs),
    totalMs: Math.round(t2 - t0),
    peakRssMb: peakRssMb(),
    weights: report.stats.done,
    writtenMb: Math.round(dataBytes / 2 ** 20),
  };
  rmSync(out, { recursive: true, force: true });
  console.log(JSON.stringify(result));
  process.exit(0);
}

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

function runChild<T = ChildResult>(kernel: string, loraFile: string, out: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = fork(
      process.argv[1],
      [
        '--child',
        kernel,
        '--model',
        modelDir,
        '--lora',
        loraFile,
        '--out',
        out,
        '--threads',
        String(threads),
      ],
      { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
    );
    let stdout = '';
    p.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    p.on('exit', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as T);
      else reject(new Error(`${kernel} child exited ${code}: ${stdout.slice(-500)}`));
    });
  });
}

const outRoot = arg('out', mkdtempSync(join(tmpdir(), 'ls-lora-bench-')));
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
let macs = 0;
let seed = 1;
let modules = 0;
for (const [site, path] of best) {
  if (!TARGETS.test(path)) continue;
  if (limit > 0 && modules >= limit) break;
  modules++;
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
  macs += rank * site.fanIn * site.out;
}
const loraFile = join(outRoot, 'random-lcm-shaped.safetensors');
writeFileSync(loraFile, encodeSafetensors(tensors, { note: 'random, LCM-LoRA SD1.5 shapes' }));

const loadBefore = loadavg()[0];
const kernels: Record<string, ChildResult> = {};
const names = arg('kernels', 'before,js,onnxruntime').split(',').filter(Boolean);
const unknown = names.filter((k) => !['before', 'js', 'onnxruntime'].includes(k));
if (unknown.length > 0)
  throw new Error(`unknown kernel(s) ${unknown.join(', ')}: use before, js, onnxruntime`);
for (const k of names) {
  kernels[k] = await runChild(k, loraFile, join(outRoot, `merge-${k}`));
  console.error(`${k}: ${JSON.stringify(kernels[k])}`);
}

const build = process.argv.includes('--build')
  ? await runChild<Record<string, unknown>>('build', loraFile, join(outRoot, 'sd15--lora'))
  : undefined;
console.log(
  JSON.stringify({
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    load1: [loadBefore, loadavg()[0]].map((l) => Math.round(l * 10) / 10),
    model: modelDir,
    rank,
    modules,
    loraParams: params,
    upDownGmac: Math.round(macs / 1e7) / 100,
    loraFileMb: Math.round(statSync(loraFile).size / 2 ** 20),
    kernels,
    build,
  }),
);
if (!process.argv.includes('--keep')) rmSync(outRoot, { recursive: true, force: true });
