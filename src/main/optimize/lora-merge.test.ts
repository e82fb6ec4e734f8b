import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildVariant } from './build-variant';
import { indexSites, mergeLoras, parseLoraKeys, readLoras, type MergeReport } from './lora-merge';
import { attr, makeNode, makeTensor, OnnxModel } from './onnx-model';
import { encodeSafetensors } from './safetensors';
import { DT, floatToHalf, halfToFloat } from './tensor-data';
import { randomFloats, valueInfo, writeModel } from '../../../test/helpers/onnx-build';

const FIX = 'test/fixtures/lora';
const TINY = 'resources/models/tiny-shapes';
const tmp = (): string => mkdtempSync(join(tmpdir(), 'ls-lora-'));

function floatsAt(file: string, shapes: number[][]): Float32Array[] {
  const buf = readFileSync(file);
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  let at = 0;
  return shapes.map((s) => {
    const n = s.reduce((a, b) => a * b, 1);
    const out = all.slice(at, at + n);
    at += n;
    return out;
  });
}

async function run(
  file: string,
  feeds: Record<string, ort.Tensor>,
): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  try {
    const r = await s.run(feeds);
    return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await s.release();
  }
}

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** Merges into a copy of `onnxFile`, returns the written model path. */
function mergeToTemp(onnxFile: string, loraFile: string, scale: number): string {
  const model = OnnxModel.read(onnxFile);
  const loras = readLoras([{ path: loraFile, scale }]);
  mergeLoras(model, 'unet', loras);
  const out = join(tmp(), 'merged');
  mkdirSync(out);
  model.write(out);
  model.close();
  return join(out, 'model.onnx');
}

describe('parseLoraKeys', () => {
  it('reads kohya, PEFT, diffusers lora.down/up and attention-processor keys', () => {
    const k = parseLoraKeys([
      'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight',
      'lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight',
      'lora_unet_down_blocks_0_attentions_0_proj_in.alpha',
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight',
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight',
      'lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight',
      'lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight',
    ]);
    expect(k.format).toBe('kohya');
    expect(k.unknown).toEqual([]);
    expect(k.modules.map((m) => [m.component, m.module, !!m.alpha])).toEqual([
      ['unet', 'down_blocks_0_attentions_0_proj_in', true],
      ['text_encoder', 'text_model_encoder_layers_0_self_attn_q_proj', false],
      ['text_encoder_2', 'text_model_encoder_layers_0_mlp_fc1', false],
    ]);
    const p = parseLoraKeys([
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight',
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight',
      'text_encoder.text_model.encoder.layers.0.self_attn.k_proj.lora.down.weight',
      'text_encoder.text_model.encoder.layers.0.self_attn.k_proj.lora.up.weight',
      'mid_block.attentions.0.transformer_blocks.0.attn2.processor.to_out_lora.down.weight',
      'mid_block.attentions.0.transformer_blocks.0.attn2.processor.to_out_lora.up.weight',
    ]);
    expect(p.format).toBe('peft');
    expect(p.unknown).toEqual([]);
    expect(p.modules.map((m) => [m.component, m.module])).toEqual([
      ['unet', 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'],
      ['text_encoder', 'text_model.encoder.layers.0.self_attn.k_proj'],
      ['unet', 'mid_block.attentions.0.transformer_blocks.0.attn2.to_out.0'],
    ]);
  });

  it('lists keys of no layout and halves without their pair', () => {
    const k = parseLoraKeys([
      'lora_unet_x.lora_down.weight',
      'lora_unet_x.hada_w1_a',
      'model.diffusion_model.input_blocks.1.0.weight',
    ]);
    expect(k.modules).toEqual([]);
    expect(k.unknown).toEqual([
      'lora_unet_x.hada_w1_a',
      'model.diffusion_model.input_blocks.1.0.weight',
      'lora_unet_x.lora_down.weight (no pair)',
    ]);
  });
});

describe('indexSites', () => {
  it('maps tiny-shapes module paths to MatMul (through the fp16 Cast), Gemm and Conv sites', () => {
    const model = OnnxModel.read(join(TINY, 'unet', 'model.onnx'));
    const idx = indexSites(model);
    expect(idx.get('down0_attn.self_attn.to_q')?.node.name).toBe(
      '/down0_attn/self_attn/to_q/MatMul',
    );
    expect(idx.get('down0_attn_self_attn_to_q')?.node.name).toBe(
      '/down0_attn/self_attn/to_q/MatMul',
    );
    expect(idx.get('mid_attn.ff.0')?.layout).toBe('in-out');
    expect(idx.get('down0_res.temb')?.layout).toBe('out-in');
    expect(idx.get('downsample')?.kernel).toEqual([3, 3]);
    expect(idx.get('up0_attn.proj_out')?.kernel).toEqual([1, 1]);
    model.close();
  });
});

describe('mergeLoras', () => {
  it('matches the PyTorch merge on the small module (PEFT keys; MatMul, Gemm, Conv 1x1 and 3x3)', async () => {
    const meta = JSON.parse(readFileSync(join(FIX, 'small', 'meta.json'), 'utf8')) as {
      scale: number;
      inputs: Record<'x' | 'tokens' | 't', number[]>;
      outputs: Record<'y' | 'q', number[]>;
    };
    const [x, tokens, t] = floatsAt(join(FIX, 'small', 'inputs.bin'), [
      meta.inputs.x,
      meta.inputs.tokens,
      meta.inputs.t,
    ]);
    const [y, q] = floatsAt(join(FIX, 'small', 'expected.bin'), [meta.outputs.y, meta.outputs.q]);
    const feeds = {
      x: new ort.Tensor('float32', x, meta.inputs.x),
      tokens: new ort.Tensor('float32', tokens, meta.inputs.tokens),
      t: new ort.Tensor('float32', t, meta.inputs.t),
    };
    const merged = await run(
      mergeToTemp(
        join(FIX, 'small', 'model.onnx'),
        join(FIX, 'small', 'peft-lora.safetensors'),
        meta.scale,
      ),
      feeds,
    );
    expect(maxAbsDiff(merged.y, y)).toBeLessThan(1e-4);
    expect(maxAbsDiff(merged.q, q)).toBeLessThan(1e-4);
    // Keys without alpha in the file merged with alpha = rank, and say so.
    const model = OnnxModel.read(join(FIX, 'small', 'model.onnx'));
    const report = mergeLoras(
      model,
      'unet',
      readLoras([{ path: join(FIX, 'small', 'peft-lora.safetensors'), scale: meta.scale }]),
    );
    model.close();
    expect(
      report.mapped
        .filter((m) => m.alphaDefault)
        .map((m) => [m.key, m.alpha])
        .sort(),
    ).toEqual([
      ['unet.base_model.model.blocks.1.to_q', 2],
      ['unet.base_model.model.temb', 2],
    ]);
    // The LoRA moved the outputs: the unmerged model is far from the reference.
    const plain = await run(join(FIX, 'small', 'model.onnx'), feeds);
    expect(maxAbsDiff(plain.y, y)).toBeGreaterThan(0.05);
    expect(maxAbsDiff(plain.q, q)).toBeGreaterThan(0.05);
  });

  it('matches the PyTorch merge on the tiny-shapes UNet (kohya keys, fp16-stored weights)', async () => {
    const meta = JSON.parse(readFileSync(join(FIX, 'tiny-shapes-ref.json'), 'utf8')) as {
      scale: number;
      modules: number;
      sample: number[];
      encoder_hidden_states: number[];
      out_sample: number[];
    };
    const [sample, timestep, ctx, expected] = floatsAt(join(FIX, 'tiny-shapes-ref.bin'), [
      meta.sample,
      [2],
      meta.encoder_hidden_states,
      meta.out_sample,
    ]);
    const feeds = {
      sample: new ort.Tensor('float32', sample, meta.sample),
      timestep: new ort.Tensor('float32', timestep, [2]),
      encoder_hidden_states: new ort.Tensor('float32', ctx, meta.encoder_hidden_states),
    };
    const loras = readLoras([
      { path: join(FIX, 'tiny-shapes-random.safetensors'), scale: meta.scale },
    ]);
    const mergeTo = (dtype: 'source' | 'float32'): { dir: string; report: MergeReport } => {
      const model = OnnxModel.read(join(TINY, 'unet', 'model.onnx'));
      const report = mergeLoras(model, 'unet', loras, { dtype });
      const dir = join(tmp(), 'merged');
      mkdirSync(dir);
      model.write(dir);
      model.close();
      return { dir, report };
    };
    // PyTorch merged in float32 and kept float32 weights: compare the merge's arithmetic with the
    // weights written as float32 too.
    const f32 = mergeTo('float32');
    expect(f32.report.mapped).toHaveLength(meta.modules);
    expect(f32.report.weightsChanged).toBe(meta.modules);
    expect(f32.report.stats).toMatchObject({ kernel: 'onnxruntime', done: meta.modules });
    expect(f32.report.stats.fallbackReason).toBeUndefined();
    const merged = await run(join(f32.dir, 'model.onnx'), feeds);
    expect(maxAbsDiff(merged.out_sample, expected)).toBeLessThan(1e-4);
    const plain = await run(join(TINY, 'unet', 'model.onnx'), feeds);
    const loraEffect = maxAbsDiff(plain.out_sample, expected);
    expect(loraEffect).toBeGreaterThan(0.01);

    // By default the fp16-stored weights stay fp16 (same tensors, same Casts, same size), rounded
    // once after the float32 merge: within fp16 rounding of the float32 merge, far below the
    // LoRA's own effect.
    const f16 = mergeTo('source');
    const source = OnnxModel.read(join(TINY, 'unet', 'model.onnx'));
    const written = OnnxModel.read(join(f16.dir, 'model.onnx'));
    const types = (m: OnnxModel): string[] =>
      m.graph.initializer.map((t) => `${t.name}:${t.dataType}`).sort();
    expect(types(written)).toEqual(types(source));
    expect(
      written.graph.initializer.filter((t) => t.dataType === DT.FLOAT16).length,
    ).toBeGreaterThan(meta.modules);
    expect(written.graph.node.map((n) => n.opType)).toEqual(source.graph.node.map((n) => n.opType));
    source.close();
    written.close();
    const bytes = (dir: string): number =>
      readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    const sourceBytes = statSync(join(TINY, 'unet', 'model.onnx')).size;
    expect(bytes(f16.dir)).toBeLessThanOrEqual(sourceBytes * 1.05);
    expect(bytes(f32.dir)).toBeGreaterThan(sourceBytes * 1.3);
    const half = await run(join(f16.dir, 'model.onnx'), feeds);
    const fp16Diff = maxAbsDiff(half.out_sample, merged.out_sample);
    expect(fp16Diff).toBeGreaterThan(0);
    expect(fp16Diff).toBeLessThan(2e-3);
    expect(fp16Diff).toBeLessThan(loraEffect / 5);
  });

  it('refuses keys that map to nothing, listing them, and leaves the model untouched', () => {
    const dir = tmp();
    const f = join(dir, 'stray.safetensors');
    const d = { shape: [2, 16], data: new Float32Array(32).fill(0.1) };
    const u = { shape: [24, 2], data: new Float32Array(48).fill(0.1) };
    writeFileSync(
      f,
      encodeSafetensors({
        'lora_unet_blocks_0_to_q.lora_down.weight': d,
        'lora_unet_blocks_0_to_q.lora_up.weight': u,
        'lora_unet_blocks_7_to_q.lora_down.weight': d,
        'lora_unet_blocks_7_to_q.lora_up.weight': u,
        'lora_unet_nowhere.lora_down.weight': d,
        'lora_unet_nowhere.lora_up.weight': u,
      }),
    );
    const model = OnnxModel.read(join(FIX, 'small', 'model.onnx'));
    const before = model.graph.initializer.map((t) => t.name);
    expect(() => mergeLoras(model, 'unet', readLoras([{ path: f, scale: 1 }]))).toThrow(
      /2 LoRA key\(s\) map to no weight in unet: lora_unet_blocks_7_to_q, lora_unet_nowhere; .*nothing was merged/,
    );
    expect(model.graph.initializer.map((t) => t.name)).toEqual(before);
    model.close();
  });

  it("takes a PEFT adapter's alpha from its adapter_config.json: the same merge as kohya's alpha key", () => {
    const down = { shape: [2, 16], data: randomFloats(32, 11) };
    const up = { shape: [24, 2], data: randomFloats(48, 12) };
    const peftDir = tmp();
    writeFileSync(
      join(peftDir, 'adapter_model.safetensors'),
      encodeSafetensors({
        'base_model.model.blocks.0.to_q.lora_A.weight': down,
        'base_model.model.blocks.0.to_q.lora_B.weight': up,
      }),
    );
    writeFileSync(join(peftDir, 'adapter_config.json'), JSON.stringify({ r: 2, lora_alpha: 8 }));
    const kohya = join(tmp(), 'kohya.safetensors');
    writeFileSync(
      kohya,
      encodeSafetensors({
        'lora_unet_blocks_0_to_q.lora_down.weight': down,
        'lora_unet_blocks_0_to_q.lora_up.weight': up,
        'lora_unet_blocks_0_to_q.alpha': { shape: [], data: Float32Array.from([8]) },
      }),
    );
    const reportOf = (file: string): MergeReport['mapped'] => {
      const model = OnnxModel.read(join(FIX, 'small', 'model.onnx'));
      const report = mergeLoras(model, 'unet', readLoras([{ path: file, scale: 1 }]));
      model.close();
      return report.mapped;
    };
    const peft = join(peftDir, 'adapter_model.safetensors');
    expect(reportOf(peft).map((m) => [m.alpha, m.alphaSource, m.alphaDefault])).toEqual([
      [8, 'adapter_config.json', undefined],
    ]);
    const small = join(FIX, 'small', 'model.onnx');
    expect(readFileSync(mergeToTemp(small, peft, 1))).toEqual(
      readFileSync(mergeToTemp(small, kohya, 1)),
    );
  });

  it('refuses a LoRA whose shapes do not fit (an SDXL-sized LoRA), naming the first key', () => {
    const f = join(tmp(), 'sdxl.safetensors');
    writeFileSync(
      f,
      encodeSafetensors({
        'lora_unet_blocks_0_to_q.lora_down.weight': {
          shape: [4, 2048],
          data: new Float32Array(8192),
        },
        'lora_unet_blocks_0_to_q.lora_up.weight': { shape: [24, 4], data: new Float32Array(96) },
      }),
    );
    const model = OnnxModel.read(join(FIX, 'small', 'model.onnx'));
    expect(() => mergeLoras(model, 'unet', readLoras([{ path: f, scale: 1 }]))).toThrow(
      /LoRA key lora_unet_blocks_0_to_q .* does not fit \/blocks.0\/to_q\/MatMul: .*down \[4, 2048\] vs weight \[16, 24\]/,
    );
    model.close();
  });

  it('refuses scales out of range and files of no LoRA layout', () => {
    const f = join(FIX, 'small', 'peft-lora.safetensors');
    expect(() => readLoras([{ path: f, scale: 9 }])).toThrow(
      /scale 9 .* out of range: use -4\.\.4/,
    );
    expect(() => readLoras([{ path: f, scale: Number.NaN }])).toThrow(/out of range/);
    const g = join(tmp(), 'ckpt.safetensors');
    writeFileSync(
      g,
      encodeSafetensors({
        'model.diffusion_model.out.2.weight': { shape: [1], data: new Float32Array(1) },
      }),
    );
    expect(() => readLoras([{ path: g, scale: 1 }])).toThrow(
      /no LoRA layout.*model\.diffusion_model/,
    );
    expect(() => readLoras([{ path: join(FIX, 'small', 'model.onnx'), scale: 1 }])).toThrow(
      /not a valid \.safetensors file/,
    );
  });
});

describe('mergeLoras on shared and fp16 weights', () => {
  // One fp16 weight behind one Cast feeds two MatMuls; the LoRA targets only the first.
  const W = randomFloats(8 * 6, 3);
  const halfW = Uint16Array.from(W, (v) => floatToHalf(v));
  const file = writeModel(join(tmp(), 'shared'), {
    nodes: [
      makeNode('Cast', ['w'], ['w_f'], '/Cast', [attr('to', DT.FLOAT)]),
      makeNode('MatMul', ['x', 'w_f'], ['qa'], '/a/to_q/MatMul'),
      makeNode('MatMul', ['x', 'w_f'], ['qb'], '/b/to_k/MatMul'),
    ],
    initializers: [makeTensor('w', DT.FLOAT16, [8, 6], halfW)],
    inputs: [valueInfo('x', [1, 8])],
    outputs: [valueInfo('qa', [1, 6]), valueInfo('qb', [1, 6])],
  });
  const down = randomFloats(2 * 8, 4);
  const up = randomFloats(6 * 2, 5);
  const lora = join(tmp(), 'a.safetensors');
  writeFileSync(
    lora,
    encodeSafetensors({
      'lora_unet_a_to_q.lora_down.weight': { shape: [2, 8], data: down },
      'lora_unet_a_to_q.lora_up.weight': { shape: [6, 2], data: up },
      'lora_unet_a_to_q.alpha': { shape: [], data: Float32Array.from([1]) },
    }),
  );
  const x = randomFloats(8, 6);
  const feeds = { x: new ort.Tensor('float32', x, [1, 8]) };

  it('gives the LoRA site its own fp16 copy behind its own Cast and leaves the other user alone', async () => {
    const model = OnnxModel.read(file);
    const report = mergeLoras(model, 'unet', readLoras([{ path: lora, scale: 1 }]));
    expect(report.mapped.map((m) => [m.node, m.alpha, m.alphaDefault])).toEqual([
      ['/a/to_q/MatMul', 1, undefined],
    ]);
    const out = join(tmp(), 'merged');
    mkdirSync(out);
    model.write(out);
    model.close();
    const written = OnnxModel.read(join(out, 'model.onnx'));
    expect(written.graph.initializer.map((t) => [t.name, t.dataType])).toEqual([
      ['w', DT.FLOAT16],
      [expect.stringMatching(/^w_lora/), DT.FLOAT16],
    ]);
    expect(written.graph.node.map((n) => n.opType)).toEqual(['Cast', 'Cast', 'MatMul', 'MatMul']);
    written.close();
    const merged = await run(join(out, 'model.onnx'), feeds);
    const plain = await run(file, feeds);
    expect(Array.from(merged.qb)).toEqual(Array.from(plain.qb));
    // qa = x · (W16 + (1/2) · (up · down)ᵀ), with the merged weight rounded to fp16 once.
    const w16 = Float32Array.from(halfW, (h) => halfToFloat(h));
    const qa = new Float32Array(6);
    for (let o = 0; o < 6; o++) {
      for (let i = 0; i < 8; i++) {
        const delta = 0.5 * (up[o * 2] * down[i] + up[o * 2 + 1] * down[8 + i]);
        qa[o] += x[i] * halfToFloat(floatToHalf(w16[i * 6 + o] + delta));
      }
    }
    expect(maxAbsDiff(merged.qa, qa)).toBeLessThan(1e-5);
    expect(maxAbsDiff(merged.qa, plain.qa)).toBeGreaterThan(0.05);
  });

  it('refuses a LoRA whose down matrix has no rank dimension, and a non-numeric alpha', () => {
    const bad = join(tmp(), 'norank.safetensors');
    writeFileSync(
      bad,
      encodeSafetensors({
        'lora_unet_a_to_q.lora_down.weight': { shape: [8], data: down.slice(0, 8) },
        'lora_unet_a_to_q.lora_up.weight': { shape: [6], data: up.slice(0, 6) },
      }),
    );
    const model = OnnxModel.read(file);
    expect(() => mergeLoras(model, 'unet', readLoras([{ path: bad, scale: 1 }]))).toThrow(
      /lora_unet_a_to_q .* has no rank: down \[8\] and up \[6\]/,
    );
    const alpha = join(tmp(), 'alpha.safetensors');
    writeFileSync(
      alpha,
      encodeSafetensors({
        'lora_unet_a_to_q.lora_down.weight': { shape: [2, 8], data: down },
        'lora_unet_a_to_q.lora_up.weight': { shape: [6, 2], data: up },
        'lora_unet_a_to_q.alpha': { shape: [2], data: Float32Array.from([1, 2]) },
      }),
    );
    expect(() => mergeLoras(model, 'unet', readLoras([{ path: alpha, scale: 1 }]))).toThrow(
      /lora_unet_a_to_q.alpha .* is not a single finite number .*alpha = rank/,
    );
    model.close();
  });
});

describe('buildVariant with LoRAs', () => {
  it('writes a merged tiny-shapes variant whose manifest lists the file hash, scale and every key', async () => {
    const out = join(tmp(), 'tiny--lora');
    const lora = join(FIX, 'tiny-shapes-random.safetensors');
    const { manifest } = await buildVariant(TINY, 'lora', out, {
      loras: [{ path: lora, scale: 0.8 }],
    });
    expect(manifest.loras).toHaveLength(1);
    const entry = manifest.loras?.[0];
    expect(entry?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(entry?.scale).toBe(0.8);
    expect(entry?.format).toBe('kohya');
    expect(entry?.mapped).toHaveLength(entry?.keys ?? -1);
    expect(entry?.mapped.find((m) => m.key === 'lora_unet_mid_attn_cross_attn_to_k')?.node).toBe(
      '/mid_attn/cross_attn/to_k/MatMul',
    );
    expect(manifest.components.unet.transforms).toEqual(['lora']);
    expect(manifest.components.unet.reports[0].details).toMatchObject({
      keys: entry?.keys,
      onnxruntimeGemm: 1,
      upDownMs: expect.any(Number),
    });
    expect(manifest.components.text_encoder.transforms).toEqual([]);
    expect(manifest.components.unet.check?.nanCount).toBe(0);
    expect(existsSync(join(out, 'unet', 'model.onnx_data'))).toBe(true);
    await expect(buildVariant(TINY, 'lora', join(tmp(), 'x'))).rejects.toThrow(
      /needs at least one LoRA file/,
    );
  });
});
