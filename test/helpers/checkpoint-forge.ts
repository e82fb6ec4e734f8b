import { closeSync, mkdirSync, openSync, truncateSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Forged Stable Diffusion checkpoints for the import tests, written into a temp folder at test
 * time (no binaries in the repository). The key names are those of real single-file checkpoints
 * in the original LDM layout (SD 1.5, SD 2.x, SDXL base) and of diffusers folders; every tensor is
 * tiny except the few whose shapes decide the family (`input_blocks.0.0.weight`, every
 * `attn2.to_k.weight`, SDXL's `label_emb.0.0.weight`), which keep their real shapes. The data are
 * zeros written as a sparse file (truncate), so a file costs its header and next to no disk.
 */

export type ForgeDtype = 'F16' | 'BF16' | 'F32' | 'I64';
export interface ForgeTensor {
  dtype: ForgeDtype;
  shape: number[];
}
export type ForgeTensors = Record<string, ForgeTensor>;

const WIDTH: Record<ForgeDtype, number> = { F16: 2, BF16: 2, F32: 4, I64: 8 };

/** Writes a `.safetensors` file: the header as the format says, then zero data (sparse). */
export function writeSafetensors(
  path: string,
  tensors: ForgeTensors,
  metadata?: Record<string, string>,
): number {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of Object.keys(tensors).sort()) {
    const { dtype, shape } = tensors[name];
    const bytes = shape.reduce((a, b) => a * b, 1) * WIDTH[dtype];
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const hb = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length), 0);
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, hb);
  } finally {
    closeSync(fd);
  }
  const size = 8 + hb.length + offset;
  truncateSync(path, size);
  return size;
}

interface UnetPlan {
  /** Channels per level. */
  channels: number[];
  /** Transformer blocks per level (0: no attention at that level). */
  depth: number[];
  middleDepth: number;
  contextDim: number;
  /** SD 1.x: proj_in/proj_out are 1x1 convs; SD 2.x and SDXL: linear. */
  linearProj: boolean;
  /** SDXL's pooled-text + size conditioning input (adm_in_channels). */
  admIn?: number;
}

const SD1_UNET: UnetPlan = {
  channels: [320, 640, 1280, 1280],
  depth: [1, 1, 1, 0],
  middleDepth: 1,
  contextDim: 768,
  linearProj: false,
};
const SD2_UNET: UnetPlan = { ...SD1_UNET, contextDim: 1024, linearProj: true };
const SDXL_UNET: UnetPlan = {
  channels: [320, 640, 1280],
  depth: [0, 2, 10],
  middleDepth: 10,
  contextDim: 2048,
  linearProj: true,
  admIn: 2816,
};

/** A tiny stand-in tensor: the shape's rank is kept (a conv stays 4-D), every dimension is 1. */
const tiny = (rank: number, dtype: ForgeDtype): ForgeTensor => ({
  dtype,
  shape: Array<number>(rank).fill(1),
});

/** `model.diffusion_model.*` of an LDM UNet (openaimodel.py's module names). */
export function ldmUnet(
  plan: UnetPlan,
  dtype: ForgeDtype,
  inChannels = 4,
  prefix = 'model.diffusion_model.',
): ForgeTensors {
  const t: ForgeTensors = {};
  const wb = (name: string, rank: number): void => {
    t[`${prefix}${name}.weight`] = tiny(rank, dtype);
    t[`${prefix}${name}.bias`] = tiny(1, dtype);
  };
  const res = (at: string, skip: boolean): void => {
    wb(`${at}.in_layers.0`, 1);
    wb(`${at}.in_layers.2`, 4);
    wb(`${at}.emb_layers.1`, 2);
    wb(`${at}.out_layers.0`, 1);
    wb(`${at}.out_layers.3`, 4);
    if (skip) wb(`${at}.skip_connection`, 4);
  };
  const attn = (at: string, channels: number, depth: number): void => {
    wb(`${at}.norm`, 1);
    wb(`${at}.proj_in`, plan.linearProj ? 2 : 4);
    for (let d = 0; d < depth; d++) {
      const b = `${at}.transformer_blocks.${d}`;
      for (const a of ['attn1', 'attn2']) {
        for (const p of ['to_q', 'to_k', 'to_v'])
          t[`${prefix}${b}.${a}.${p}.weight`] = tiny(2, dtype);
        wb(`${b}.${a}.to_out.0`, 2);
      }
      // The family's deciding shape: [channels, context dim].
      t[`${prefix}${b}.attn2.to_k.weight`] = { dtype, shape: [channels, plan.contextDim] };
      wb(`${b}.ff.net.0.proj`, 2);
      wb(`${b}.ff.net.2`, 2);
      for (const n of ['norm1', 'norm2', 'norm3']) wb(`${b}.${n}`, 1);
    }
    wb(`${at}.proj_out`, plan.linearProj ? 2 : 4);
  };
  wb('time_embed.0', 2);
  wb('time_embed.2', 2);
  if (plan.admIn) {
    t[`${prefix}label_emb.0.0.weight`] = { dtype, shape: [1280, plan.admIn] };
    t[`${prefix}label_emb.0.0.bias`] = tiny(1, dtype);
    wb('label_emb.0.2', 2);
  }
  t[`${prefix}input_blocks.0.0.weight`] = { dtype, shape: [320, inChannels, 3, 3] };
  t[`${prefix}input_blocks.0.0.bias`] = tiny(1, dtype);
  const levels = plan.channels.length;
  let block = 1;
  let prev = plan.channels[0];
  for (let l = 0; l < levels; l++) {
    const ch = plan.channels[l];
    for (let r = 0; r < 2; r++, block++) {
      res(`input_blocks.${block}.0`, prev !== ch);
      prev = ch;
      if (plan.depth[l] > 0) attn(`input_blocks.${block}.1`, ch, plan.depth[l]);
    }
    if (l < levels - 1) wb(`input_blocks.${block++}.0.op`, 4);
  }
  const top = plan.channels[levels - 1];
  res('middle_block.0', false);
  attn('middle_block.1', top, plan.middleDepth);
  res('middle_block.2', false);
  block = 0;
  for (let l = levels - 1; l >= 0; l--) {
    const ch = plan.channels[l];
    for (let r = 0; r < 3; r++, block++) {
      res(`output_blocks.${block}.0`, true);
      let at = 1;
      if (plan.depth[l] > 0) attn(`output_blocks.${block}.${at++}`, ch, plan.depth[l]);
      if (r === 2 && l > 0) wb(`output_blocks.${block}.${at}.conv`, 4);
    }
  }
  wb('out.0', 1);
  wb('out.2', 4);
  return t;
}

/** `first_stage_model.*`: the KL autoencoder (ldm/modules/diffusionmodules/model.py). */
export function ldmVae(dtype: ForgeDtype, prefix = 'first_stage_model.'): ForgeTensors {
  const t: ForgeTensors = {};
  const wb = (name: string, rank: number): void => {
    t[`${prefix}${name}.weight`] = tiny(rank, dtype);
    t[`${prefix}${name}.bias`] = tiny(1, dtype);
  };
  const res = (at: string, shortcut: boolean): void => {
    wb(`${at}.norm1`, 1);
    wb(`${at}.conv1`, 4);
    wb(`${at}.norm2`, 1);
    wb(`${at}.conv2`, 4);
    if (shortcut) wb(`${at}.nin_shortcut`, 4);
  };
  const mid = (side: string): void => {
    res(`${side}.mid.block_1`, false);
    for (const p of ['norm', 'q', 'k', 'v', 'proj_out'])
      wb(`${side}.mid.attn_1.${p}`, p === 'norm' ? 1 : 4);
    res(`${side}.mid.block_2`, false);
  };
  wb('encoder.conv_in', 4);
  for (let l = 0; l < 4; l++) {
    for (let b = 0; b < 2; b++)
      res(`encoder.down.${l}.block.${b}`, b === 0 && (l === 1 || l === 2));
    if (l < 3) wb(`encoder.down.${l}.downsample.conv`, 4);
  }
  mid('encoder');
  wb('encoder.norm_out', 1);
  wb('encoder.conv_out', 4);
  wb('decoder.conv_in', 4);
  mid('decoder');
  for (let l = 0; l < 4; l++) {
    for (let b = 0; b < 3; b++) res(`decoder.up.${l}.block.${b}`, b === 0 && (l === 0 || l === 1));
    if (l > 0) wb(`decoder.up.${l}.upsample.conv`, 4);
  }
  wb('decoder.norm_out', 1);
  wb('decoder.conv_out', 4);
  wb('quant_conv', 4);
  wb('post_quant_conv', 4);
  return t;
}

/** A Hugging Face `CLIPTextModel` (SD 1.x's `cond_stage_model.transformer.`). */
export function hfClip(prefix: string, dtype: ForgeDtype, layers = 12, hidden = 768): ForgeTensors {
  const t: ForgeTensors = {};
  const wb = (name: string, rank: number): void => {
    t[`${prefix}${name}.weight`] = tiny(rank, dtype);
    t[`${prefix}${name}.bias`] = tiny(1, dtype);
  };
  t[`${prefix}text_model.embeddings.token_embedding.weight`] = tiny(2, dtype);
  t[`${prefix}text_model.embeddings.position_embedding.weight`] = tiny(2, dtype);
  t[`${prefix}text_model.embeddings.position_ids`] = { dtype: 'I64', shape: [1, 77] };
  for (let i = 0; i < layers; i++) {
    const l = `text_model.encoder.layers.${i}`;
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) wb(`${l}.self_attn.${p}`, 2);
    wb(`${l}.layer_norm1`, 1);
    wb(`${l}.mlp.fc1`, 2);
    wb(`${l}.mlp.fc2`, 2);
    wb(`${l}.layer_norm2`, 1);
  }
  t[`${prefix}text_model.final_layer_norm.weight`] = { dtype, shape: [hidden] };
  t[`${prefix}text_model.final_layer_norm.bias`] = { dtype, shape: [hidden] };
  return t;
}

/** An OpenCLIP text tower (SD 2's `cond_stage_model.model.`, SDXL's second embedder). */
export function openClip(prefix: string, dtype: ForgeDtype, layers: number): ForgeTensors {
  const t: ForgeTensors = {};
  const wb = (name: string, rank: number): void => {
    t[`${prefix}${name}.weight`] = tiny(rank, dtype);
    t[`${prefix}${name}.bias`] = tiny(1, dtype);
  };
  t[`${prefix}positional_embedding`] = tiny(2, dtype);
  t[`${prefix}token_embedding.weight`] = tiny(2, dtype);
  for (let i = 0; i < layers; i++) {
    const l = `transformer.resblocks.${i}`;
    wb(`${l}.ln_1`, 1);
    t[`${prefix}${l}.attn.in_proj_weight`] = tiny(2, dtype);
    t[`${prefix}${l}.attn.in_proj_bias`] = tiny(1, dtype);
    wb(`${l}.attn.out_proj`, 2);
    wb(`${l}.ln_2`, 1);
    wb(`${l}.mlp.c_fc`, 2);
    wb(`${l}.mlp.c_proj`, 2);
  }
  wb('ln_final', 1);
  t[`${prefix}text_projection`] = tiny(2, dtype);
  t[`${prefix}logit_scale`] = tiny(0, dtype);
  return t;
}

/** The noise-schedule buffers LDM checkpoints carry (always fp32). */
export function scheduleBuffers(): ForgeTensors {
  const t: ForgeTensors = {};
  for (const n of [
    'betas',
    'alphas_cumprod',
    'alphas_cumprod_prev',
    'sqrt_alphas_cumprod',
    'sqrt_one_minus_alphas_cumprod',
    'log_one_minus_alphas_cumprod',
    'sqrt_recip_alphas_cumprod',
    'sqrt_recipm1_alphas_cumprod',
    'posterior_variance',
    'posterior_log_variance_clipped',
    'posterior_mean_coef1',
    'posterior_mean_coef2',
  ])
    t[n] = { dtype: 'F32', shape: [1000] };
  return t;
}

/** EMA copies as LDM's LitEma stores them: `model_ema.` + the UNet name without its dots. */
export function emaOf(unet: ForgeTensors): ForgeTensors {
  const t: ForgeTensors = {
    'model_ema.decay': { dtype: 'F32', shape: [] },
    'model_ema.num_updates': { dtype: 'I64', shape: [] },
  };
  for (const [name, v] of Object.entries(unet))
    t[`model_ema.${name.slice('model.'.length).replace(/\./g, '')}`] = v;
  return t;
}

export type ForgeFamily = 'sd1' | 'sd2' | 'sdxl';

/** A whole single-file checkpoint in the LDM layout. */
export function ldmCheckpoint(
  family: ForgeFamily,
  dtype: ForgeDtype = 'F16',
  opts: { inChannels?: number; ema?: 'none' | 'included' | 'only' } = {},
): ForgeTensors {
  const plan = family === 'sd1' ? SD1_UNET : family === 'sd2' ? SD2_UNET : SDXL_UNET;
  const unet = ldmUnet(plan, dtype, opts.inChannels ?? 4);
  const text =
    family === 'sd1'
      ? hfClip('cond_stage_model.transformer.', dtype)
      : family === 'sd2'
        ? openClip('cond_stage_model.model.', dtype, 24)
        : {
            ...hfClip('conditioner.embedders.0.transformer.', dtype),
            ...openClip('conditioner.embedders.1.model.', dtype, 32),
          };
  const ema = opts.ema ?? 'none';
  return {
    ...(ema === 'only' ? {} : unet),
    ...(ema === 'none' ? {} : emaOf(unet)),
    ...ldmVae(dtype),
    ...text,
    ...(family === 'sdxl' ? {} : scheduleBuffers()),
  };
}

/** A kohya-style LoRA (the keys `generate --lora` takes). */
export function kohyaLora(): ForgeTensors {
  const t: ForgeTensors = {};
  for (const m of [
    'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q',
    'lora_te_text_model_encoder_layers_0_self_attn_q_proj',
  ]) {
    t[`${m}.lora_down.weight`] = { dtype: 'F16', shape: [4, 8] };
    t[`${m}.lora_up.weight`] = { dtype: 'F16', shape: [8, 4] };
    t[`${m}.alpha`] = { dtype: 'F16', shape: [] };
  }
  return t;
}

/** The diffusers UNet's names (`UNet2DConditionModel`), for a folder fixture. */
export function diffusersUnet(
  family: ForgeFamily,
  dtype: ForgeDtype,
  inChannels = 4,
): ForgeTensors {
  const plan = family === 'sd1' ? SD1_UNET : family === 'sd2' ? SD2_UNET : SDXL_UNET;
  const t: ForgeTensors = {
    'conv_in.weight': { dtype, shape: [320, inChannels, 3, 3] },
    'conv_in.bias': tiny(1, dtype),
    'time_embedding.linear_1.weight': tiny(2, dtype),
    'conv_out.weight': tiny(4, dtype),
  };
  if (plan.admIn) t['add_embedding.linear_1.weight'] = { dtype, shape: [1280, plan.admIn] };
  plan.channels.forEach((ch, l) => {
    if (plan.depth[l] === 0) return;
    for (const a of [0, 1]) {
      const b = `down_blocks.${l}.attentions.${a}.transformer_blocks.0`;
      t[`${b}.attn2.to_k.weight`] = { dtype, shape: [ch, plan.contextDim] };
      t[`${b}.attn1.to_q.weight`] = tiny(2, dtype);
    }
  });
  t['mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight'] = {
    dtype,
    shape: [plan.channels[plan.channels.length - 1], plan.contextDim],
  };
  t['up_blocks.0.resnets.0.conv1.weight'] = tiny(4, dtype);
  return t;
}
