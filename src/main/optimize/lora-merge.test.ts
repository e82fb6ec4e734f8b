import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildVariant } from './build-variant';
import { indexSites, mergeLoras, parseLoraKeys, readLoras } from './lora-merge';
import { OnnxModel } from './onnx-model';
import { encodeSafetensors } from './safetensors';

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
    const model = OnnxModel.read(join(TINY, 'unet', 'model.onnx'));
    const report = mergeLoras(
      model,
      'unet',
      readLoras([{ path: join(FIX, 'tiny-shapes-random.safetensors'), scale: meta.scale }]),
    );
    expect(report.mapped).toHaveLength(meta.modules);
    expect(report.weightsChanged).toBe(meta.modules);
    const out = join(tmp(), 'merged');
    mkdirSync(out);
    model.write(out);
    model.close();
    const merged = await run(join(out, 'model.onnx'), feeds);
    expect(maxAbsDiff(merged.out_sample, expected)).toBeLessThan(1e-4);
    const plain = await run(join(TINY, 'unet', 'model.onnx'), feeds);
    expect(maxAbsDiff(plain.out_sample, expected)).toBeGreaterThan(0.01);
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
    expect(manifest.components.text_encoder.transforms).toEqual([]);
    expect(manifest.components.unet.check?.nanCount).toBe(0);
    expect(existsSync(join(out, 'unet', 'model.onnx_data'))).toBe(true);
    await expect(buildVariant(TINY, 'lora', join(tmp(), 'x'))).rejects.toThrow(
      /needs at least one LoRA file/,
    );
  });
});
