import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StudioError } from '../../shared/errors';
import { tempHome } from '../../../test/helpers/temp-home';
import {
  diffusersUnet,
  hfClip,
  kohyaLora,
  ldmCheckpoint,
  ldmVae,
  writeSafetensors,
  type ForgeTensors,
} from '../../../test/helpers/checkpoint-forge';
import { inspectCheckpoint, type InspectOptions } from './inspect';

const tmp = tempHome('latent-studio-checkpoint-');
afterAll(() => tmp.cleanup());

let n = 0;
function forge(tensors: ForgeTensors, name = `model-${n++}.safetensors`): string {
  const file = join(tmp.dir, name);
  writeSafetensors(file, tensors);
  return file;
}

/** The StudioError message a refused inspection throws (and that it is one line, 'bad-input'). */
function refusal(file: string, opts?: InspectOptions): string {
  try {
    inspectCheckpoint(file, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(StudioError);
    expect((e as StudioError).code).toBe('bad-input');
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error(`${file} was not refused`);
}

describe('inspectCheckpoint: LDM single files', () => {
  it('SD 1.5 fp16: family from the 768 context, components, counts, epsilon', () => {
    const tensors = ldmCheckpoint('sd1', 'F16');
    const r = inspectCheckpoint(forge(tensors));
    expect(r.layout).toBe('ldm-single-file');
    expect(r.family).toBe('sd1');
    expect(r.contextDim).toBe(768);
    expect(r.unetInChannels).toBe(4);
    expect(r.prediction).toBe('epsilon');
    expect(r.ema).toBe('none');
    expect(r.storage).toBe('fp16');
    expect(r.dtypes.fp32).toBe(12); // the noise-schedule buffers
    expect(r.dtypes.int64).toBe(1); // CLIP's position_ids
    expect(r.ignoredKeys).toBe(12);
    expect(r.missing).toEqual([]);
    expect(r.why.join('\n')).toMatch(/attn2\.to_k\.weight is \[\*, 768\] \(and 15 more/);
    expect(r.why.join('\n')).toMatch(/proj_in\.weight is a 1x1 conv/);
    expect(r.why.join('\n')).toMatch(/cond_stage_model\.transformer\.\* .*clip-vit-l/);
    const byName = Object.fromEntries(r.components.map((c) => [c.name, c]));
    expect(Object.keys(byName).sort()).toEqual(['text_encoder', 'unet', 'vae']);
    const unetKeys = Object.entries(tensors).filter(([k]) =>
      k.startsWith('model.diffusion_model.'),
    );
    expect(byName.unet.tensors).toBe(unetKeys.length);
    expect(byName.unet.parameters).toBe(
      unetKeys.reduce((a, [, t]) => a + t.shape.reduce((x, y) => x * y, 1), 0),
    );
    expect(byName.text_encoder.tensors).toBe(197); // 12 layers x 16 + embeddings + final norm
  });

  it('SD 1.5 fp32 reads as fp32 storage', () => {
    const r = inspectCheckpoint(forge(ldmCheckpoint('sd1', 'F32')));
    expect(r.family).toBe('sd1');
    expect(r.storage).toBe('fp32');
    expect(r.dtypes.fp16).toBeUndefined();
  });

  it('EMA: included beside the weights, and EMA-only (dotless LitEma names)', () => {
    const both = inspectCheckpoint(forge(ldmCheckpoint('sd1', 'F16', { ema: 'included' })));
    expect(both.ema).toBe('included');
    expect(both.components.map((c) => c.name)).toContain('unet_ema');
    const only = inspectCheckpoint(forge(ldmCheckpoint('sd1', 'F16', { ema: 'only' })));
    expect(only.ema).toBe('only');
    expect(only.family).toBe('sd1');
    expect(only.unetInChannels).toBe(4);
    expect(only.why[0]).toMatch(/EMA-only/);
  });

  it('SD 2.x: 1024 context and OpenCLIP; prediction unknown unless told', () => {
    const file = forge(ldmCheckpoint('sd2', 'F16'), 'sd2.safetensors');
    const r = inspectCheckpoint(file);
    expect(r.family).toBe('sd2');
    expect(r.contextDim).toBe(1024);
    expect(r.prediction).toBe('unknown');
    expect(r.predictionSource).toMatch(/--family sd2 or sd2-v/);
    expect(r.why.join('\n')).toMatch(/cond_stage_model\.model\.\* .*openclip-vit-h/);
    expect(r.why.join('\n')).toMatch(/proj_in\.weight is linear/);
    expect(inspectCheckpoint(file, { family: 'sd2-v' }).prediction).toBe('v');
    expect(inspectCheckpoint(file, { family: 'sd2' }).prediction).toBe('epsilon');
    expect(refusal(file, { family: 'sd1' })).toMatch(
      /--family sd1 was given but the weights are SD 2\.x.*give sd2 or sd2-v/,
    );
  });

  it('SD 2.x with a sidecar .yaml saying parameterization: "v"', () => {
    const file = forge(ldmCheckpoint('sd2', 'F16'), 'sd2-768.safetensors');
    writeFileSync(
      join(tmp.dir, 'sd2-768.yaml'),
      'model:\n  target: ldm.models.diffusion.ddpm.LatentDiffusion\n  params:\n    parameterization: "v"\n',
    );
    const r = inspectCheckpoint(file);
    expect(r.prediction).toBe('v');
    expect(r.predictionSource).toMatch(/sd2-768\.yaml/);
    expect(refusal(file, { family: 'sd2' })).toMatch(/says epsilon prediction but sd2-768\.yaml/);
  });

  it('SDXL: 2048 context, two text encoders, label_emb', () => {
    const r = inspectCheckpoint(forge(ldmCheckpoint('sdxl', 'F16')));
    expect(r.family).toBe('sdxl');
    expect(r.contextDim).toBe(2048);
    expect(r.prediction).toBe('epsilon');
    expect(r.components.find((c) => c.name === 'text_encoder_2')?.kind).toBe('openclip-vit-bigg');
    expect(r.why.join('\n')).toMatch(/label_emb\.0\.0\.weight is \[1280, 2816\]/);
  });

  it('a "v_pred" marker key says v-prediction', () => {
    const r = inspectCheckpoint(
      forge({ ...ldmCheckpoint('sdxl', 'F16'), v_pred: { dtype: 'F16', shape: [0] } }),
    );
    expect(r.prediction).toBe('v');
  });

  it('a UNet without VAE or text encoder is inspected and says what is missing', () => {
    const unetOnly = Object.fromEntries(
      Object.entries(ldmCheckpoint('sd1')).filter(([k]) => k.startsWith('model.diffusion_model.')),
    );
    expect(inspectCheckpoint(forge(unetOnly)).missing).toEqual(['vae', 'text_encoder']);
  });

  it('reads the header only: a sparse 7 GB checkpoint in well under a second', () => {
    const tensors = {
      ...ldmCheckpoint('sd1', 'F16'),
      'model.diffusion_model.out.2.weight': { dtype: 'F16' as const, shape: [4, 320, 3, 3] },
      'first_stage_model.decoder.conv_out.weight': {
        dtype: 'F16' as const,
        shape: [3_500_000_000],
      },
    };
    const file = forge(tensors, 'big.safetensors');
    expect(statSync(file).size).toBeGreaterThan(7e9);
    const rss = process.memoryUsage().rss;
    const r = inspectCheckpoint(file);
    expect(r.bytes).toBeGreaterThan(7e9);
    expect(r.inspectMs).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(200e6);
  });
});

describe('inspectCheckpoint: refusals, one line each with the fix', () => {
  it('pickles by extension, never opened', () => {
    for (const ext of ['ckpt', 'pt', 'pth', 'bin']) {
      const file = join(tmp.dir, `model.${ext}`);
      writeFileSync(file, Buffer.from([0x80, 0x02, 0x7d, 0x71]));
      expect(refusal(file)).toMatch(
        new RegExp(
          `model\\.${ext} is a PyTorch pickle.*can run code when unpickled; get a \\.safetensors version`,
        ),
      );
    }
  });

  it('a pickle (zip) renamed .safetensors', () => {
    const file = join(tmp.dir, 'renamed.safetensors');
    writeFileSync(file, Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(64)]));
    expect(refusal(file)).toMatch(/PyTorch pickle named \.safetensors/);
  });

  it('a real header whose length begins with pickle-like bytes is read as safetensors', () => {
    // Length 0x0280 = 640: its first two bytes, 0x80 0x02, are also a pickle's opening.
    const body = JSON.stringify({
      'model.diffusion_model.out.2.weight': { dtype: 'F16', shape: [1], data_offsets: [0, 2] },
    });
    const header = Buffer.from(body.padEnd(640, ' '));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(640n);
    const file = join(tmp.dir, 'pickle-like-length.safetensors');
    writeFileSync(file, Buffer.concat([len, header, Buffer.alloc(2)]));
    expect(refusal(file)).toMatch(/no cross-attention/);
  });

  it('a truncated file', () => {
    const file = forge(ldmCheckpoint('sd1', 'F16'), 'truncated.safetensors');
    truncateSync(file, statSync(file).size - 1000);
    expect(refusal(file)).toMatch(/not a valid \.safetensors file: .*truncated file\?/);
  });

  it('a header that lies about a tensor size', () => {
    const file = join(tmp.dir, 'liar.safetensors');
    const header = Buffer.from(
      JSON.stringify({
        'model.diffusion_model.out.2.weight': { dtype: 'F16', shape: [4, 4], data_offsets: [0, 8] },
      }),
    );
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(file, Buffer.concat([len, header, Buffer.alloc(32)]));
    expect(refusal(file)).toMatch(/has 8 bytes but its shape \[4, 4\] of F16 needs 32/);
  });

  it('a LoRA given as a checkpoint', () => {
    const file = forge(kohyaLora(), 'style.safetensors');
    expect(refusal(file)).toMatch(
      /style\.safetensors is a LoRA .*use generate --lora style\.safetensors/,
    );
    const peft = forge({
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight': {
        dtype: 'F16',
        shape: [4, 8],
      },
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight': {
        dtype: 'F16',
        shape: [8, 4],
      },
    });
    expect(refusal(peft)).toMatch(/is a LoRA/);
  });

  it('an inpainting UNet (9 in-channels)', () => {
    const file = forge(ldmCheckpoint('sd1', 'F16', { inChannels: 9 }));
    expect(refusal(file)).toMatch(/inpainting UNet .*9 channels.*not supported yet/);
  });

  it('unknown keys: their prefixes, up to 10', () => {
    const extra: ForgeTensors = {};
    for (let i = 0; i < 12; i++)
      extra[`control_model.zero_convs.${i}.0.weight`] = { dtype: 'F16', shape: [1] };
    for (let i = 0; i < 12; i++) extra[`thing${i}.weight`] = { dtype: 'F16', shape: [1] };
    extra['model.diffusion_model.mystery.weight'] = { dtype: 'F16', shape: [1] };
    const msg = refusal(forge({ ...ldmCheckpoint('sd1'), ...extra }));
    expect(msg).toMatch(/has 25 key\(s\) the import does not know: /);
    expect(msg).toMatch(/control_model\.zero_convs\.\* \(12\)/);
    expect(msg).toMatch(/model\.diffusion_model\.mystery\.\*/);
    expect(msg).toMatch(/and 4 more; nothing was imported$/);
  });

  it('a VAE on its own, prefixed or not, and a text encoder on its own', () => {
    expect(refusal(forge(ldmVae('F16')))).toMatch(
      /holds a VAE and no UNet.*import the full checkpoint/,
    );
    expect(refusal(forge(ldmVae('F16', '')))).toMatch(/is a VAE on its own/);
    expect(refusal(forge(hfClip('cond_stage_model.transformer.', 'F16')))).toMatch(
      /holds text encoder\(s\) and no UNet/,
    );
    expect(refusal(forge(hfClip('', 'F16')))).toMatch(/is a text encoder on its own/);
  });

  it('a UNet whose context disagrees with its text encoder', () => {
    const sd1 = ldmCheckpoint('sd1');
    const sd2 = ldmCheckpoint('sd2');
    const mixed = Object.fromEntries(
      Object.entries({ ...sd1, ...sd2 }).filter(
        ([k]) => !k.startsWith('cond_stage_model.transformer.'),
      ),
    );
    // sd2's UNet keys overwrote sd1's; now give it SD 1.x's encoder instead of OpenCLIP.
    const file = forge({
      ...Object.fromEntries(
        Object.entries(mixed).filter(([k]) => !k.startsWith('cond_stage_model.model.')),
      ),
      ...hfClip('cond_stage_model.transformer.', 'F16'),
    });
    expect(refusal(file)).toMatch(/the UNet is SD 2\.x but the file also holds clip-vit-l/);
  });

  it('not a safetensors file, and a missing one', () => {
    const file = join(tmp.dir, 'model.onnx');
    writeFileSync(file, 'x');
    expect(refusal(file)).toMatch(/is not a \.safetensors file/);
    expect(() => inspectCheckpoint(join(tmp.dir, 'nope.safetensors'))).toThrow(/does not exist/);
  });
});

describe('inspectCheckpoint: diffusers folders', () => {
  function folder(
    name: string,
    family: 'sd1' | 'sd2' | 'sdxl',
    opts: { prediction?: string; inChannels?: number; bin?: boolean } = {},
  ): string {
    const dir = join(tmp.dir, name);
    mkdirSync(dir, { recursive: true });
    const xl = family === 'sdxl';
    writeFileSync(
      join(dir, 'model_index.json'),
      JSON.stringify({
        _class_name: xl ? 'StableDiffusionXLPipeline' : 'StableDiffusionPipeline',
        unet: ['diffusers', 'UNet2DConditionModel'],
        vae: ['diffusers', 'AutoencoderKL'],
        text_encoder: ['transformers', 'CLIPTextModel'],
        ...(xl ? { text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'] } : {}),
      }),
    );
    if (opts.bin) {
      mkdirSync(join(dir, 'unet'), { recursive: true });
      writeFileSync(join(dir, 'unet', 'diffusion_pytorch_model.bin'), 'x');
    } else {
      writeSafetensors(
        join(dir, 'unet', 'diffusion_pytorch_model.fp16.safetensors'),
        diffusersUnet(family, 'F16', opts.inChannels),
      );
    }
    writeSafetensors(join(dir, 'vae', 'diffusion_pytorch_model.safetensors'), ldmVae('F32', ''));
    const hidden = family === 'sd1' ? 768 : family === 'sd2' ? 1024 : 768;
    writeSafetensors(join(dir, 'text_encoder', 'model.safetensors'), hfClip('', 'F32', 2, hidden));
    if (xl)
      writeSafetensors(
        join(dir, 'text_encoder_2', 'model.safetensors'),
        hfClip('', 'F32', 2, 1280),
      );
    if (opts.prediction) {
      mkdirSync(join(dir, 'scheduler'), { recursive: true });
      writeFileSync(
        join(dir, 'scheduler', 'scheduler_config.json'),
        JSON.stringify({ _class_name: 'DDIMScheduler', prediction_type: opts.prediction }),
      );
    }
    return dir;
  }

  it('SD 1.5 folder: the component files, family, epsilon from the scheduler config', () => {
    const r = inspectCheckpoint(folder('sd15-diffusers', 'sd1', { prediction: 'epsilon' }));
    expect(r.layout).toBe('diffusers-folder');
    expect(r.family).toBe('sd1');
    expect(r.prediction).toBe('epsilon');
    expect(r.files.map((f) => f.slice(f.indexOf('sd15-diffusers/') + 15))).toEqual([
      'unet/diffusion_pytorch_model.fp16.safetensors',
      'vae/diffusion_pytorch_model.safetensors',
      'text_encoder/model.safetensors',
    ]);
    expect(r.missing).toEqual([]);
  });

  it('SD 2 folder with v_prediction, and SDXL', () => {
    const sd2 = inspectCheckpoint(folder('sd2-diffusers', 'sd2', { prediction: 'v_prediction' }));
    expect(sd2.family).toBe('sd2');
    expect(sd2.prediction).toBe('v');
    const xl = inspectCheckpoint(folder('sdxl-diffusers', 'sdxl'));
    expect(xl.family).toBe('sdxl');
    expect(xl.components.map((c) => c.kind)).toEqual([
      'unet',
      'kl-f8',
      'clip-vit-l',
      'openclip-vit-bigg',
    ]);
  });

  it('refuses an inpainting UNet, pickled weights, and an ONNX folder', () => {
    expect(refusal(folder('inpaint-diffusers', 'sd1', { inChannels: 9 }))).toMatch(
      /inpainting UNet/,
    );
    expect(refusal(folder('bin-diffusers', 'sd1', { bin: true }))).toMatch(
      /diffusion_pytorch_model\.bin is a PyTorch pickle/,
    );
    const onnx = join(tmp.dir, 'onnx-folder');
    mkdirSync(join(onnx, 'unet'), { recursive: true });
    writeFileSync(join(onnx, 'unet', 'model.onnx'), 'x');
    expect(refusal(onnx)).toMatch(/already an ONNX pipeline; register it with models --add/);
  });
});
