import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { StudioError } from '../../shared/errors';
import { parseLoraKeys } from '../optimize/lora-merge';
import { SafetensorsFile, type SafetensorsEntry } from '../optimize/safetensors';

/**
 * What a Stable Diffusion checkpoint holds, read from its safetensors header alone (the tensor
 * data are never read, so a 7 GB file is inspected in milliseconds): the layout, the family and
 * the keys and shapes that decided it, the UNet's input channels, EMA weights, dtypes, components
 * and their parameter counts, and the prediction type where something says it.
 *
 * Layouts read:
 * - `ldm-single-file`: one `.safetensors` in the original LDM layout, as AUTOMATIC1111, ComfyUI
 *   and model sites ship them: `model.diffusion_model.*` (UNet), `first_stage_model.*` (VAE),
 *   `cond_stage_model.transformer.*` (SD 1.x: CLIP ViT-L/14, Hugging Face names),
 *   `cond_stage_model.model.*` (SD 2.x: OpenCLIP ViT-H/14), `conditioner.embedders.0.transformer.*`
 *   + `conditioner.embedders.1.model.*` (SDXL: CLIP ViT-L and OpenCLIP ViT-bigG), `model_ema.*`
 *   (LitEma copies: the UNet name without its dots), and the noise-schedule buffers.
 * - `diffusers-folder`: `model_index.json` with `unet/diffusion_pytorch_model[.fp16].safetensors`,
 *   `vae/…`, `text_encoder/model[.fp16].safetensors`, `text_encoder_2/…`; the prediction type from
 *   `scheduler/scheduler_config.json`.
 *
 * The family comes from the cross-attention context dimension (the second dimension of every
 * `attn2.to_k.weight`: 768 SD 1.x, 1024 SD 2.x, 2048 SDXL), checked against the text encoder(s)
 * present. Whatever cannot be placed is refused, with the key prefixes that did not match: the
 * import converts only what it understands.
 */

export type CheckpointFamily = 'sd1' | 'sd2' | 'sdxl';
/** What a caller may state: `sd2` is SD 2.x with epsilon prediction, `sd2-v` the 768-v models. */
export type FamilyOption = 'sd1' | 'sd2' | 'sd2-v' | 'sdxl';
export const FAMILY_OPTIONS: readonly FamilyOption[] = ['sd1', 'sd2', 'sd2-v', 'sdxl'];
export type Prediction = 'epsilon' | 'v' | 'unknown';
export type ComponentName = 'unet' | 'unet_ema' | 'vae' | 'text_encoder' | 'text_encoder_2';

export interface ComponentInfo {
  name: ComponentName;
  /** What it is: `clip-vit-l`, `openclip-vit-h`, `openclip-vit-bigg`, `kl-f8`, `unet`. */
  kind: string;
  /** The key prefix (single file) or the file (diffusers folder) it was read from. */
  source: string;
  tensors: number;
  /** Elements of its floating-point tensors (integer buffers such as `position_ids` excluded). */
  parameters: number;
}

export interface CheckpointInspection {
  path: string;
  layout: 'ldm-single-file' | 'diffusers-folder';
  /** The files read (one for a single file; per component for a folder). */
  files: string[];
  bytes: number;
  family: CheckpointFamily;
  /** The keys and shapes that decided the family, one line each. */
  why: string[];
  contextDim: number;
  unetInChannels: number;
  prediction: Prediction;
  /** Where the prediction type came from (or why it is unknown). */
  predictionSource: string;
  /** `included`: EMA copies beside the trained weights; `only`: EMA weights and no others. */
  ema: 'none' | 'included' | 'only';
  /** Tensors per dtype (`fp16`, `bf16`, `fp32`, …). */
  dtypes: Record<string, number>;
  /** The dtype holding most parameters. */
  storage: string;
  components: ComponentInfo[];
  /** Components a pipeline needs that the file does not hold. */
  missing: ComponentName[];
  /** Keys understood and not converted (noise-schedule buffers, EMA counters, markers). */
  ignoredKeys: number;
  /** The safetensors `__metadata__` (single file) as the file states it. */
  metadata: Record<string, string>;
  inspectMs: number;
}

export interface InspectOptions {
  /** The family as the person states it (`--family`); it must agree with the weights. */
  family?: FamilyOption;
}

const bad = (message: string): StudioError => new StudioError(message, 'bad-input');

const PICKLE_EXTENSIONS = new Set(['.ckpt', '.pt', '.pth', '.bin', '.pkl', '.pickle']);
const MAX_LISTED = 10;

const DTYPE_NAMES: Record<string, string> = {
  F16: 'fp16',
  BF16: 'bf16',
  F32: 'fp32',
  F64: 'fp64',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const FLOAT_DTYPES = new Set(['F16', 'BF16', 'F32', 'F64']);

const CONTEXT_FAMILY: Record<number, { family: CheckpointFamily; encoder: string }> = {
  768: { family: 'sd1', encoder: 'CLIP ViT-L/14, SD 1.x' },
  1024: { family: 'sd2', encoder: 'OpenCLIP ViT-H/14, SD 2.x' },
  2048: { family: 'sdxl', encoder: 'CLIP ViT-L + OpenCLIP ViT-bigG concatenated, SDXL' },
};

const FAMILY_LABEL: Record<CheckpointFamily, string> = {
  sd1: 'SD 1.x',
  sd2: 'SD 2.x',
  sdxl: 'SDXL',
};

// ---- the LDM single-file layout ----

const HF_CLIP = /^(?:text_model\.)?(?:embeddings|encoder|final_layer_norm)\./;
const OPEN_CLIP =
  /^(?:transformer\.resblocks\.\d+\.|token_embedding\.|positional_embedding$|ln_final\.|text_projection$|logit_scale$|attn_mask$)/;

interface Part {
  name: ComponentName;
  kind: string;
  root: string;
  /** What may follow the root. */
  sub: RegExp;
}

const LDM_PARTS: Part[] = [
  {
    name: 'unet',
    kind: 'unet',
    root: 'model.diffusion_model.',
    sub: /^(?:time_embed|label_emb|input_blocks|middle_block|output_blocks|out)\./,
  },
  {
    name: 'unet_ema',
    kind: 'unet',
    root: 'model_ema.',
    sub: /^diffusion_model\w+$/,
  },
  {
    name: 'vae',
    kind: 'kl-f8',
    root: 'first_stage_model.',
    sub: /^(?:encoder|decoder|quant_conv|post_quant_conv)\./,
  },
  {
    name: 'text_encoder',
    kind: 'clip-vit-l',
    root: 'cond_stage_model.transformer.',
    sub: HF_CLIP,
  },
  { name: 'text_encoder', kind: 'openclip-vit-h', root: 'cond_stage_model.model.', sub: OPEN_CLIP },
  {
    name: 'text_encoder',
    kind: 'clip-vit-l',
    root: 'conditioner.embedders.0.transformer.',
    sub: HF_CLIP,
  },
  {
    name: 'text_encoder_2',
    kind: 'openclip-vit-bigg',
    root: 'conditioner.embedders.1.model.',
    sub: OPEN_CLIP,
  },
];

/**
 * Keys the import understands and leaves out: LDM's (and sgm's `denoiser.*`) noise schedule, EMA
 * counters, and the `v_pred` / `ztsnr` markers some SDXL fine-tunes carry.
 */
const LDM_IGNORED =
  /^(?:betas|alphas_cumprod|alphas_cumprod_prev|sqrt_alphas_cumprod|sqrt_one_minus_alphas_cumprod|log_one_minus_alphas_cumprod|sqrt_recip_alphas_cumprod|sqrt_recipm1_alphas_cumprod|posterior_variance|posterior_log_variance_clipped|posterior_mean_coef1|posterior_mean_coef2|logvar|lvlb_weights|model_ema\.decay|model_ema\.num_updates|v_pred|ztsnr|denoiser\.sigmas|denoiser\.log_sigmas)$/;

/** LoRA / LyCORIS keys, whatever else the file holds. */
const LORA_KEY =
  /(?:^lora_(?:unet|te\d?)_|\.lora_(?:up|down)\.|\.lora_[AB]\.|\.lora\.(?:up|down)\.|\.(?:hada|lokr)_w\d)/;

/** A standalone VAE (`vae-ft-mse-840000-ema-pruned.safetensors`, TAESD) or text encoder. */
const STANDALONE_VAE = /^(?:encoder|decoder|quant_conv|post_quant_conv)\./;
const STANDALONE_TEXT = /^(?:text_model\.|text_projection\.|transformer\.resblocks\.)/;
const DIFFUSERS_UNET =
  /^(?:conv_in|time_embedding|add_embedding|down_blocks|mid_block|up_blocks|conv_norm_out|conv_out|class_embedding)\./;

const ORDER: ComponentName[] = ['unet', 'unet_ema', 'vae', 'text_encoder', 'text_encoder_2'];
const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const shapeText = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** `a.b.c.weight` → `a.b.*`: the part of a key that says where it belongs. */
function prefixOf(key: string, root = ''): string {
  const rest = key.slice(root.length).split('.');
  const head = root === '' ? rest.slice(0, 2) : rest.slice(0, 1);
  return `${root}${head.join('.')}${rest.length > head.length ? '.*' : ''}`;
}

function listPrefixes(keys: readonly string[], prefix: (k: string) => string): string {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(prefix(k), (counts.get(prefix(k)) ?? 0) + 1);
  const items = [...counts].map(([p, n]) => (n > 1 ? `${p} (${n})` : p));
  const shown = items.slice(0, MAX_LISTED).join(', ');
  return items.length > MAX_LISTED ? `${shown} and ${items.length - MAX_LISTED} more` : shown;
}

function refusePickle(path: string): void {
  const ext = extname(path).toLowerCase();
  if (PICKLE_EXTENSIONS.has(ext)) {
    throw bad(
      `${basename(path)} is a PyTorch pickle (${ext}), which can run code when unpickled; get a .safetensors version of this model`,
    );
  }
}

/** A pickle or zip renamed `.safetensors` reads as a lying header; say what it really is. */
function refuseDisguisedPickle(path: string): void {
  const head = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  const zip = head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
  const pickle = head[0] === 0x80 && head[1] >= 2 && head[1] <= 5;
  if (zip || pickle) {
    throw bad(
      `${basename(path)} is a PyTorch pickle named .safetensors (it can run code when unpickled); get a real .safetensors version of this model`,
    );
  }
}

/** Opens a safetensors file for its header only, with safetensors.ts's checks. */
function readHeader(path: string): {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  bytes: number;
} {
  refusePickle(path);
  if (!existsSync(path)) throw new StudioError(`${path} does not exist`, 'not-found');
  let file: SafetensorsFile;
  try {
    file = SafetensorsFile.open(path);
  } catch (e) {
    // Only a file that fails as safetensors is checked for pickle magic: a real header length
    // can begin with the same bytes.
    refuseDisguisedPickle(path);
    throw e;
  }
  try {
    return {
      entries: [...file.entries.values()],
      metadata: { ...file.metadata },
      bytes: statSync(path).size,
    };
  } finally {
    file.close();
  }
}

function refuseLora(path: string, names: readonly string[]): void {
  const lora = names.filter((n) => LORA_KEY.test(n));
  if (lora.length === 0 && parseLoraKeys(names).modules.length === 0) return;
  throw bad(
    `${basename(path)} is a LoRA (${lora[0] ?? 'lora_down/lora_up pairs'}), not a checkpoint; use generate --lora ${basename(path)}`,
  );
}

function tally(entries: readonly SafetensorsEntry[]): {
  dtypes: Record<string, number>;
  storage: string;
} {
  const dtypes: Record<string, number> = {};
  const elements: Record<string, number> = {};
  for (const e of entries) {
    const d = DTYPE_NAMES[e.dtype] ?? e.dtype.toLowerCase();
    dtypes[d] = (dtypes[d] ?? 0) + 1;
    if (FLOAT_DTYPES.has(e.dtype)) elements[d] = (elements[d] ?? 0) + numel(e.shape);
  }
  const storage = Object.entries(elements).sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'none';
  return { dtypes, storage };
}

function component(
  name: ComponentName,
  kind: string,
  source: string,
  entries: readonly SafetensorsEntry[],
): ComponentInfo {
  let parameters = 0;
  for (const e of entries) if (FLOAT_DTYPES.has(e.dtype)) parameters += numel(e.shape);
  return { name, kind, source, tensors: entries.length, parameters };
}

/** Context dims from `attn2.to_k.weight` shapes (key test per layout), and the deciding keys. */
function contextDims(entries: readonly SafetensorsEntry[], isToK: (name: string) => boolean) {
  const dims = new Map<number, string[]>();
  for (const e of entries) {
    if (!isToK(e.name)) continue;
    if (e.shape.length !== 2) {
      throw bad(
        `${e.name} is ${shapeText(e.shape)}, not a 2-D projection; this is no Stable Diffusion UNet the import knows`,
      );
    }
    dims.set(e.shape[1], [...(dims.get(e.shape[1]) ?? []), e.name]);
  }
  return dims;
}

function decideFamily(
  dims: Map<number, string[]>,
  why: string[],
): { family: CheckpointFamily; contextDim: number } {
  if (dims.size === 0) {
    throw bad(
      'the UNet has no cross-attention (no attn2.to_k.weight): this is no text-to-image Stable Diffusion UNet the import knows',
    );
  }
  if (dims.size > 1) {
    const seen = [...dims].map(([d, keys]) => `${d} (${keys[0]})`).join(', ');
    throw bad(`the UNet's cross-attention layers disagree on the context dimension: ${seen}`);
  }
  const [[contextDim, keys]] = [...dims];
  if (contextDim === 1280) {
    throw bad(
      `the UNet's cross-attention context is 1280 (${keys[0]}): an SDXL refiner, which the import does not take; import an SDXL base model`,
    );
  }
  const f = CONTEXT_FAMILY[contextDim];
  if (!f) {
    throw bad(
      `the UNet's cross-attention context is ${contextDim} (${keys[0]}); the import knows 768 (SD 1.x), 1024 (SD 2.x) and 2048 (SDXL)`,
    );
  }
  why.push(
    `${keys[0]} is [*, ${contextDim}] (and ${keys.length - 1} more attn2.to_k): cross-attention context ${contextDim} (${f.encoder})`,
  );
  return { family: f.family, contextDim };
}

function checkInChannels(key: string, shape: readonly number[] | undefined): number {
  if (!shape || shape.length !== 4)
    throw bad(`the UNet has no 4-D ${key}; this is no Stable Diffusion UNet the import knows`);
  const c = shape[1];
  if (c === 9) {
    throw bad(
      `this is an inpainting UNet (${key} takes 9 channels: latents, mask and masked image); inpainting models are not supported yet; import the model's base (non-inpainting) version`,
    );
  }
  if (c === 8) {
    throw bad(
      `this UNet takes 8 input channels (${key}; InstructPix2Pix-style image conditioning), which the import does not support; import a text-to-image model`,
    );
  }
  if (c !== 4)
    throw bad(`the UNet takes ${c} input channels (${key}); the import knows 4 (text-to-image)`);
  return c;
}

/** The text encoders a family needs, and what each is under the layout. */
const FAMILY_TEXT: Record<CheckpointFamily, { name: ComponentName; kind: string }[]> = {
  sd1: [{ name: 'text_encoder', kind: 'clip-vit-l' }],
  sd2: [{ name: 'text_encoder', kind: 'openclip-vit-h' }],
  sdxl: [
    { name: 'text_encoder', kind: 'clip-vit-l' },
    { name: 'text_encoder_2', kind: 'openclip-vit-bigg' },
  ],
};

function checkTextEncoders(
  family: CheckpointFamily,
  components: readonly ComponentInfo[],
  why: string[],
): void {
  const expected = FAMILY_TEXT[family];
  for (const c of components) {
    if (c.name !== 'text_encoder' && c.name !== 'text_encoder_2') continue;
    const want = expected.find((e) => e.name === c.name);
    if (!want || want.kind !== c.kind) {
      throw bad(
        `the UNet is ${FAMILY_LABEL[family]} but the file also holds ${c.kind} at ${c.source}, which ${FAMILY_LABEL[family]} does not use: a mixed-up file the import does not take`,
      );
    }
    why.push(
      `${c.source}* (${c.tensors} tensors): ${c.kind} text encoder, as ${FAMILY_LABEL[family]} uses`,
    );
  }
}

/** Reconciles what the weights say with what the caller states and a sidecar config. */
function decidePrediction(
  family: CheckpointFamily,
  stated: FamilyOption | undefined,
  found: { prediction: Prediction; source: string } | undefined,
): { prediction: Prediction; predictionSource: string } {
  if (stated) {
    const statedFamily: CheckpointFamily = stated === 'sd2-v' ? 'sd2' : stated;
    if (statedFamily !== family) {
      throw bad(
        `--family ${stated} was given but the weights are ${FAMILY_LABEL[family]} (see the context dimension); leave --family out or give ${family === 'sd2' ? 'sd2 or sd2-v' : family}`,
      );
    }
  }
  const statedPrediction: Prediction | undefined =
    stated === 'sd2-v' ? 'v' : stated === 'sd2' ? 'epsilon' : undefined;
  if (found && statedPrediction && found.prediction !== statedPrediction) {
    throw bad(
      `--family ${stated} says ${statedPrediction} prediction but ${found.source} says ${found.prediction}; correct one of them`,
    );
  }
  if (found) return { prediction: found.prediction, predictionSource: found.source };
  if (statedPrediction)
    return { prediction: statedPrediction, predictionSource: `--family ${stated}` };
  if (family === 'sd2') {
    return {
      prediction: 'unknown',
      predictionSource:
        'SD 2.x comes as epsilon (512 base) and v-prediction (768-v) models and the weights do not say which; give --family sd2 or sd2-v, or put the model config beside the file (<file>.yaml with parameterization: "v")',
    };
  }
  return {
    prediction: 'epsilon',
    predictionSource: `${FAMILY_LABEL[family]} models are epsilon-prediction unless a sidecar <file>.yaml says parameterization: "v"`,
  };
}

/** LDM's model config beside the checkpoint: `model.yaml` or `model.safetensors.yaml`. */
function sidecarPrediction(file: string): { prediction: Prediction; source: string } | undefined {
  const stem = file.slice(0, file.length - extname(file).length);
  for (const candidate of [`${stem}.yaml`, `${file}.yaml`]) {
    if (!existsSync(candidate)) continue;
    const text = readFileSync(candidate, 'utf8');
    const m = /^\s*parameterization:\s*["']?([\w-]+)["']?/m.exec(text);
    const value = m?.[1];
    if (!value) {
      return {
        prediction: 'epsilon',
        source: `${basename(candidate)} (no parameterization: LDM's default, eps)`,
      };
    }
    if (value === 'v')
      return { prediction: 'v', source: `${basename(candidate)} (parameterization: v)` };
    if (value === 'eps')
      return { prediction: 'epsilon', source: `${basename(candidate)} (parameterization: eps)` };
    throw bad(
      `${basename(candidate)} says parameterization: ${value}; the import knows "eps" and "v"`,
    );
  }
  return undefined;
}

function inspectSingleFile(
  path: string,
  opts: InspectOptions,
  started: number,
): CheckpointInspection {
  const { entries, metadata, bytes } = readHeader(path);
  const names = entries.map((e) => e.name);
  if (names.length === 0) throw bad(`${basename(path)} holds no tensors`);
  refuseLora(path, names);

  const byPart = new Map<Part, SafetensorsEntry[]>();
  const unknown: string[] = [];
  let ignoredKeys = 0;
  for (const e of entries) {
    if (LDM_IGNORED.test(e.name)) {
      ignoredKeys++;
      continue;
    }
    const part = LDM_PARTS.find((p) => e.name.startsWith(p.root));
    if (part && part.sub.test(e.name.slice(part.root.length)))
      byPart.set(part, [...(byPart.get(part) ?? []), e]);
    else unknown.push(e.name);
  }

  if (byPart.size === 0) refuseStandalone(path, names);
  if (unknown.length > 0) {
    const root = (k: string): string => LDM_PARTS.find((p) => k.startsWith(p.root))?.root ?? '';
    throw bad(
      `${basename(path)} has ${unknown.length} key(s) the import does not know: ${listPrefixes(unknown, (k) => prefixOf(k, root(k)))}; nothing was imported`,
    );
  }

  const components = [...byPart].map(([p, es]) => component(p.name, p.kind, p.root, es));
  components.sort((a, b) => ORDER.indexOf(a.name) - ORDER.indexOf(b.name));
  const has = (n: ComponentName): boolean => components.some((c) => c.name === n);
  if (!has('unet') && !has('unet_ema')) {
    const held = components.map((c) => `${c.name} (${c.source}*)`).join(', ');
    const what =
      has('vae') && components.length === 1
        ? 'a VAE'
        : has('vae')
          ? 'a VAE and text encoder(s)'
          : 'text encoder(s)';
    throw bad(
      `${basename(path)} holds ${what} and no UNet: ${held}; import the full checkpoint (with model.diffusion_model.*) it goes with`,
    );
  }
  for (const n of ['text_encoder', 'text_encoder_2'] as const) {
    const dup = components.filter((c) => c.name === n);
    if (dup.length > 1) {
      throw bad(
        `${basename(path)} holds two ${n}s (${dup.map((c) => c.source).join(' and ')}): a mixed-up file the import does not take`,
      );
    }
  }

  const why: string[] = [];
  const ema = has('unet_ema') ? (has('unet') ? 'included' : 'only') : 'none';
  const unetEntries = byPart.get(LDM_PARTS[0]) ?? [];
  const emaEntries = byPart.get(LDM_PARTS[1]) ?? [];
  let family: CheckpointFamily;
  let contextDim: number;
  let unetInChannels: number;
  if (ema === 'only') {
    why.push(
      `only model_ema.* holds UNet weights (${emaEntries.length} tensors): an EMA-only file`,
    );
    ({ family, contextDim } = decideFamily(
      contextDims(emaEntries, (n) => /attn2to_kweight$/.test(n)),
      why,
    ));
    const key = 'model_ema.diffusion_modelinput_blocks00weight';
    unetInChannels = checkInChannels(key, emaEntries.find((e) => e.name === key)?.shape);
  } else {
    ({ family, contextDim } = decideFamily(
      contextDims(unetEntries, (n) => n.endsWith('.attn2.to_k.weight')),
      why,
    ));
    const key = 'model.diffusion_model.input_blocks.0.0.weight';
    unetInChannels = checkInChannels(key, unetEntries.find((e) => e.name === key)?.shape);
  }
  why.push(`input_blocks.0.0.weight takes ${unetInChannels} channels: text-to-image`);
  explainUnet(family, ema === 'only' ? emaEntries : unetEntries, why);
  checkTextEncoders(family, components, why);

  const missing: ComponentName[] = [];
  if (!has('vae')) missing.push('vae');
  for (const t of FAMILY_TEXT[family]) if (!has(t.name)) missing.push(t.name);

  const vPred = names.includes('v_pred');
  const found = vPred
    ? { prediction: 'v' as const, source: 'the checkpoint\'s "v_pred" marker key' }
    : sidecarPrediction(path);
  return {
    path,
    layout: 'ldm-single-file',
    files: [path],
    bytes,
    family,
    why,
    contextDim,
    unetInChannels,
    ...decidePrediction(family, opts.family, found),
    ema,
    ...tally(entries),
    components,
    missing,
    ignoredKeys,
    metadata,
    inspectMs: Date.now() - started,
  };
}

/** The shapes that back the context dimension up (linear vs conv proj_in, SDXL's label_emb). */
function explainUnet(
  family: CheckpointFamily,
  unet: readonly SafetensorsEntry[],
  why: string[],
): void {
  const find = (re: RegExp): SafetensorsEntry | undefined => unet.find((e) => re.test(e.name));
  const proj = find(/proj_in\.?weight$/);
  if (proj) {
    why.push(
      `${proj.name} is ${proj.shape.length === 4 ? 'a 1x1 conv' : 'linear'} (${shapeText(proj.shape)}): ${proj.shape.length === 4 ? 'SD 1.x style' : 'SD 2.x / SDXL style'}`,
    );
  }
  const label = find(/label_emb\.?0\.?0\.?weight$/);
  if (label) {
    why.push(
      `${label.name} is ${shapeText(label.shape)}: SDXL's pooled-text and size conditioning`,
    );
  } else if (family === 'sdxl') {
    throw bad(
      "the UNet has SDXL's context dimension but no label_emb (the pooled-text and size conditioning): not an SDXL base UNet the import knows",
    );
  }
}

/** Files with no LDM root at all: a standalone VAE or text encoder, or one diffusers UNet file. */
function refuseStandalone(path: string, names: readonly string[]): void {
  const name = basename(path);
  const meaningful = names.filter((n) => !LDM_IGNORED.test(n));
  if (meaningful.length === 0) return;
  if (meaningful.every((n) => STANDALONE_VAE.test(n))) {
    throw bad(
      `${name} is a VAE on its own (encoder.* / decoder.* keys), not a whole model; import the full checkpoint it goes with`,
    );
  }
  if (meaningful.every((n) => STANDALONE_TEXT.test(n))) {
    throw bad(
      `${name} is a text encoder on its own (${meaningful[0]}), not a whole model; import the full checkpoint it goes with`,
    );
  }
  if (meaningful.every((n) => DIFFUSERS_UNET.test(n))) {
    throw bad(
      `${name} is one diffusers UNet file (down_blocks.* keys); import the diffusers folder that holds model_index.json`,
    );
  }
}

// ---- the diffusers folder layout ----

interface FolderPart {
  name: ComponentName;
  allowed: RegExp;
  weights: string[];
}

const FOLDER_PARTS: FolderPart[] = [
  {
    name: 'unet',
    allowed: DIFFUSERS_UNET,
    weights: ['diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.fp16.safetensors'],
  },
  {
    name: 'vae',
    allowed: STANDALONE_VAE,
    weights: ['diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.fp16.safetensors'],
  },
  {
    name: 'text_encoder',
    allowed: /^(?:text_model\.|text_projection\.)/,
    weights: ['model.safetensors', 'model.fp16.safetensors'],
  },
  {
    name: 'text_encoder_2',
    allowed: /^(?:text_model\.|text_projection\.)/,
    weights: ['model.safetensors', 'model.fp16.safetensors'],
  },
];

function readJson(file: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v))
      return v as Record<string, unknown>;
  } catch (e) {
    throw bad(`${file} is not valid JSON (${(e as Error).message})`);
  }
  throw bad(`${file} is not a JSON object`);
}

function weightsFile(dir: string, part: FolderPart): string | undefined {
  const sub = join(dir, part.name);
  if (!existsSync(sub)) return undefined;
  for (const w of part.weights) if (existsSync(join(sub, w))) return join(sub, w);
  if (existsSync(join(sub, `${part.weights[0]}.index.json`))) {
    throw bad(
      `${part.name}/ holds sharded weights (${part.weights[0]}.index.json), which the import does not read yet; merge the shards into one .safetensors`,
    );
  }
  const pickle = ['diffusion_pytorch_model.bin', 'pytorch_model.bin', 'model.bin'].find((p) =>
    existsSync(join(sub, p)),
  );
  if (pickle) refusePickle(join(sub, pickle));
  throw bad(`${part.name}/ holds no ${part.weights.join(' or ')}`);
}

function inspectFolder(dir: string, opts: InspectOptions, started: number): CheckpointInspection {
  if (existsSync(join(dir, 'unet', 'model.onnx'))) {
    throw bad(
      `${dir} is already an ONNX pipeline; register it with models --add ${dir}, there is nothing to import`,
    );
  }
  const indexFile = join(dir, 'model_index.json');
  if (!existsSync(indexFile)) {
    throw bad(
      `${dir} is not a diffusers folder (no model_index.json); give a .safetensors checkpoint or a diffusers folder`,
    );
  }
  const index = readJson(indexFile);
  const className = typeof index._class_name === 'string' ? index._class_name : '';
  const why: string[] = [];
  if (className) why.push(`model_index.json: ${className}`);
  if (/Inpaint/i.test(className)) {
    throw bad(
      `this is an inpainting pipeline (${className}); inpainting models are not supported yet; import the model's base (non-inpainting) version`,
    );
  }

  const files: string[] = [];
  const components: ComponentInfo[] = [];
  const all: SafetensorsEntry[] = [];
  let unet: SafetensorsEntry[] = [];
  let bytes = 0;
  const hidden = new Map<ComponentName, number>();
  for (const part of FOLDER_PARTS) {
    const entry = index[part.name];
    const listed = Array.isArray(entry) && entry[0] !== null;
    const file = weightsFile(dir, part);
    if (!file) {
      if (listed)
        throw bad(`model_index.json lists ${part.name} but ${part.name}/ holds no weights`);
      continue;
    }
    const h = readHeader(file);
    const names = h.entries.map((e) => e.name);
    refuseLora(file, names);
    const unknown = names.filter((n) => !part.allowed.test(n));
    if (unknown.length > 0) {
      throw bad(
        `${part.name}/${basename(file)} has ${unknown.length} key(s) the import does not know: ${listPrefixes(unknown, (k) => prefixOf(k))}; nothing was imported`,
      );
    }
    const rel = `${part.name}/${basename(file)}`;
    files.push(file);
    bytes += h.bytes;
    all.push(...h.entries);
    if (part.name === 'unet') unet = h.entries;
    const norm = h.entries.find((e) => e.name === 'text_model.final_layer_norm.weight');
    if (norm) hidden.set(part.name, norm.shape[0]);
    const kind =
      part.name === 'vae'
        ? 'kl-f8'
        : part.name === 'unet'
          ? 'unet'
          : ({ 768: 'clip-vit-l', 1024: 'openclip-vit-h', 1280: 'openclip-vit-bigg' }[
              norm?.shape[0] ?? 0
            ] ?? `clip (hidden ${norm?.shape[0] ?? '?'})`);
    components.push(component(part.name, kind, rel, h.entries));
  }
  if (unet.length === 0) {
    const held = components.map((c) => c.source).join(', ') || 'nothing';
    throw bad(`${dir} holds no unet/ weights (${held}); import a folder with the whole pipeline`);
  }
  const { family, contextDim } = decideFamily(
    contextDims(unet, (n) => n.endsWith('.attn2.to_k.weight')),
    why,
  );
  const unetInChannels = checkInChannels(
    'conv_in.weight',
    unet.find((e) => e.name === 'conv_in.weight')?.shape,
  );
  why.push(`conv_in.weight takes ${unetInChannels} channels: text-to-image`);
  const add = unet.find((e) => e.name === 'add_embedding.linear_1.weight');
  if (add)
    why.push(
      `add_embedding.linear_1.weight is ${shapeText(add.shape)}: SDXL's pooled-text and size conditioning`,
    );
  else if (family === 'sdxl')
    throw bad(
      "the UNet has SDXL's context dimension but no add_embedding: not an SDXL base UNet the import knows",
    );
  checkTextEncoders(family, components, why);

  const missing: ComponentName[] = [];
  if (!components.some((c) => c.name === 'vae')) missing.push('vae');
  for (const t of FAMILY_TEXT[family])
    if (!components.some((c) => c.name === t.name)) missing.push(t.name);

  const schedulerFile = join(dir, 'scheduler', 'scheduler_config.json');
  let found: { prediction: Prediction; source: string } | undefined;
  if (existsSync(schedulerFile)) {
    const p = readJson(schedulerFile).prediction_type;
    if (p === undefined || p === 'epsilon')
      found = {
        prediction: 'epsilon',
        source: `scheduler/scheduler_config.json (prediction_type: ${p === undefined ? "absent, diffusers' default epsilon" : 'epsilon'})`,
      };
    else if (p === 'v_prediction')
      found = {
        prediction: 'v',
        source: 'scheduler/scheduler_config.json (prediction_type: v_prediction)',
      };
    else
      throw bad(
        `scheduler/scheduler_config.json says prediction_type: ${String(p)}; the import knows epsilon and v_prediction`,
      );
  }
  return {
    path: dir,
    layout: 'diffusers-folder',
    files,
    bytes,
    family,
    why,
    contextDim,
    unetInChannels,
    ...decidePrediction(family, opts.family, found),
    ema: 'none',
    ...tally(all),
    components,
    missing,
    ignoredKeys: 0,
    metadata: {},
    inspectMs: Date.now() - started,
  };
}

/**
 * Inspects a `.safetensors` checkpoint (LDM single-file layout) or a diffusers folder from the
 * headers alone. Throws a StudioError ('bad-input', one line naming the fix) for a pickle, a
 * truncated file or a lying header, a LoRA, an inpainting UNet, unknown keys, a VAE or text
 * encoder on its own, and a `family` that disagrees with the weights.
 */
export function inspectCheckpoint(file: string, opts: InspectOptions = {}): CheckpointInspection {
  const started = Date.now();
  const path = resolve(file);
  if (opts.family !== undefined && !FAMILY_OPTIONS.includes(opts.family)) {
    throw bad(`--family ${String(opts.family)} is not one of ${FAMILY_OPTIONS.join(', ')}`);
  }
  refusePickle(path);
  if (!existsSync(path)) throw new StudioError(`${path} does not exist`, 'not-found');
  if (statSync(path).isDirectory()) return inspectFolder(path, opts, started);
  if (extname(path).toLowerCase() !== '.safetensors') {
    throw bad(
      `${basename(path)} is not a .safetensors file; the import reads .safetensors checkpoints and diffusers folders`,
    );
  }
  return inspectSingleFile(path, opts, started);
}
