import * as ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { StudioError } from '../../shared/errors';
import { timestepTensor } from './component-session';
import { FAMILY_DEFAULTS } from './model-loader';
import type { ModelSessions } from './model-sessions';
import type { PipelineProgress, PipelineRequest, PipelineResult } from './protocol';
import { createScheduler } from './schedulers';
import { createNoise } from './noise';
import {
  concatLastAxis,
  encodeText,
  guidanceEmbedding,
  tokenizeBatch,
  type EncoderOutput,
} from './text-conditioning';
import { decodeLatents } from './vae-decode';
import { imagesToPng, latentPreviewPng } from './image-encode';
import { floatTensor, toFloat32 } from './float16';
import { fullSteps, guidedStep } from './feature-cache-schedule';
import type { ComponentSession } from './component-session';
import type { InputDims } from './static-shapes';

/**
 * Fewer steps for simpler prompts: a prompt of a few words settles in fewer denoising steps than a
 * long, detailed one. Content tokens (BOS/EOS excluded): up to 6 → 50% of the steps, up to 15 →
 * 75%, more → all. The benchmark's quality check decides whether that is acceptable for a model.
 */
export function adaptiveSteps(steps: number, contentTokens: number): number {
  const factor = contentTokens <= 6 ? 0.5 : contentTokens <= 15 ? 0.75 : 1;
  return Math.max(1, Math.ceil(steps * factor));
}

export interface PipelineHooks {
  onProgress(p: PipelineProgress): void;
  isCancelled(): boolean;
}

function asTimesteps(value: string | number | boolean | number[]): number[] {
  if (!Array.isArray(value)) {
    throw new StudioError(
      'schedulerOverrides.timesteps must be a list of integers, e.g. [961, 921, 841]',
      'bad-input',
    );
  }
  return value;
}

function checkCancelled(hooks: PipelineHooks): void {
  if (hooks.isCancelled()) throw new StudioError('generation cancelled', 'cancelled');
}

/**
 * Text to image on one loaded model: tokenize, encode, denoise with classifier-free guidance
 * (uncond and cond batched in one UNet call; skipped entirely when guidance is off), decode, PNG.
 */
export async function runPipeline(
  model: ModelSessions,
  req: PipelineRequest,
  hooks: PipelineHooks,
): Promise<PipelineResult> {
  const { info, config } = model;
  const family = info.family;
  const defaults = FAMILY_DEFAULTS[info.fewStep ? 'sd-turbo' : family];
  const requestedSteps = req.steps ?? defaults.steps;
  const guidance = req.guidance ?? defaults.guidance;
  // LCM UNets (also LCM-SDXL) take guidance as an embedding (`timestep_cond`), never as CFG.
  const embedsGuidance = family === 'lcm' || info.timeCondProjDim !== null;
  const schedulerName =
    req.scheduler ??
    (embedsGuidance ? 'lcm' : defaults.scheduler) ??
    String(info.schedulerConfig._class_name ?? 'pndm');
  const width = req.width ?? info.nativeSize;
  const height = req.height ?? info.nativeSize;
  const maxSide = info.nativeSize * 2;
  if (width > maxSide || height > maxSide) {
    throw new StudioError(
      `${width}x${height} is too large for this model (native ${info.nativeSize}x${info.nativeSize}); use at most ${maxSide} per side`,
      'bad-input',
    );
  }
  const warnings: string[] = [];
  const batch = req.batch;
  const cfg = !embedsGuidance && guidance > 1;
  const rows = cfg ? 2 * batch : batch;
  hooks.onProgress({ stage: 'load', step: 0, totalSteps: requestedSteps });

  const t0 = performance.now();
  // Session loads and latent previews happen inside the timed span but are not pipeline work:
  // they are reported apart (`load`) or left out (previews), so stage times compare across runs.
  let loadInside = 0;
  let previewMs = 0;
  model.takeOrtMs();
  const loadBefore = model.loadMs;

  // Tokenize.
  const tTok = performance.now();
  const prompts = [
    ...(cfg ? new Array<string>(batch).fill(req.negativePrompt) : []),
    ...new Array<string>(batch).fill(req.prompt),
  ];
  const tokens = tokenizeBatch(info.tokenizer, prompts);
  const steps = req.adaptiveSteps
    ? adaptiveSteps(requestedSteps, info.tokenizer.encode(req.prompt).tokenCount - 2)
    : requestedSteps;
  const tokens2 = info.tokenizer2 ? tokenizeBatch(info.tokenizer2, prompts) : null;
  if (tokens.truncated)
    warnings.push(
      `the prompt is longer than ${info.tokenizer.modelMaxLength} tokens and was truncated`,
    );
  const tokenizeMs = performance.now() - tTok;

  // Text encoders.
  hooks.onProgress({ stage: 'encode', step: 0, totalSteps: steps });
  const enc1 = await model.acquire('text_encoder');
  const tEnc = performance.now();
  let cond: EncoderOutput = await encodeText(enc1, tokens, family === 'sdxl');
  await model.done('text_encoder');
  if (tokens2) {
    const loadStart = performance.now();
    const enc2 = await model.acquire('text_encoder_2');
    loadInside += performance.now() - loadStart;
    cond = concatLastAxis(cond, await encodeText(enc2, tokens2, true));
    await model.done('text_encoder_2');
    if (cfg && req.negativePrompt === '' && info.forceZerosForEmptyPrompt) {
      // SDXL's force_zeros_for_empty_prompt: an empty negative prompt is all-zero conditioning.
      cond.hidden.fill(0, 0, (cond.hidden.length / rows) * batch);
      cond.pooled?.fill(0, 0, (cond.pooled.length / rows) * batch);
    }
  }
  const textEncoderMs = performance.now() - tEnc - loadInside;
  checkCancelled(hooks);

  // Initial latents from the seeded generator. Static shapes fix the UNet's sizes (the batch too,
  // unless a guidance interval changes it between steps).
  const lh = height / 8;
  const lw = width / 8;
  const unetDims = staticUnetDims(req.guidanceInterval && cfg ? null : rows, lh, lw, cond);
  const unet = await model.acquire('unet', unetDims);
  const sampleShape = unet.input('sample')?.shape ?? [];
  const channels = typeof sampleShape[1] === 'number' ? sampleShape[1] : 4;
  const per = channels * lh * lw;
  // `timesteps` is set_timesteps' argument, not a config key: it goes to the scheduler as an option.
  const { timesteps: customTimesteps, ...configOverrides } = req.schedulerOverrides ?? {};
  const scheduler = createScheduler(
    schedulerName,
    { ...info.schedulerConfig, ...configOverrides },
    steps,
    customTimesteps === undefined ? {} : { timesteps: asTimesteps(customTimesteps) },
  );
  // Image b of a batch uses seed + b: stream 0 for its initial latents, stream 1 for the noise a
  // stochastic sampler injects. So every image can be regenerated alone from its own seed.
  const seeds = Array.from({ length: batch }, (_, b) => (req.seed + b) % 2 ** 32);
  const initial = seeds.map((s) => createNoise(s, 0));
  const perStep = seeds.map((s) => createNoise(s, 1));
  const drawBatched = (streams: typeof initial) => (n: number) => {
    const out = new Float32Array(n);
    const each = n / batch;
    streams.forEach((stream, b) => out.set(stream.normal(each), b * each));
    return out;
  };
  const stepNoise = { source: drawBatched(perStep) };
  let latents: Float32Array = drawBatched(initial)(batch * per);
  for (let i = 0; i < latents.length; i++) latents[i] *= scheduler.initNoiseSigma;
  let denoised: Float32Array | undefined;

  const extra: Record<string, ort.Tensor> = {};
  if (family === 'lcm' || unet.input('timestep_cond')) {
    const shape = unet.input('timestep_cond')?.shape ?? [];
    const dim = info.timeCondProjDim ?? (typeof shape[1] === 'number' ? shape[1] : 256);
    extra.timestep_cond = floatTensor(
      unet.input('timestep_cond'),
      guidanceEmbedding(guidance, dim, rows),
      [rows, dim],
    );
  }
  if (family === 'sdxl') {
    if (!cond.pooled || !cond.pooledDims) {
      throw new StudioError('text_encoder_2 has no text_embeds output; SDXL needs it', 'bad-input');
    }
    extra.text_embeds = floatTensor(unet.input('text_embeds'), cond.pooled, cond.pooledDims);
    const ids = new Float32Array(rows * 6);
    for (let r = 0; r < rows; r++) ids.set([height, width, 0, 0, height, width], r * 6);
    extra.time_ids = floatTensor(unet.input('time_ids'), ids, [rows, 6]);
  }
  const hiddenTensor = floatTensor(unet.input('encoder_hidden_states'), cond.hidden, cond.dims);

  // Denoise. Under feature caching the full UNet runs on the schedule's steps and returns its
  // deep feature; the shallow UNet runs the others on the last one. Under a guidance interval the
  // steps outside it run the conditional rows alone.
  const timesteps = scheduler.timesteps;
  const caching = (req.featureCache?.interval ?? 1) > 1;
  const shallow = caching ? await acquireShallow(model, unetDims) : undefined;
  const full = fullSteps(timesteps.length, caching ? req.featureCache : undefined);
  const feeds = new UnetFeeds(rows, batch, {
    encoder_hidden_states: hiddenTensor,
    ...extra,
  });
  let cache: { feature: ort.Tensor; rows: number } | undefined;
  const unetPerStep: number[] = [];
  const tUnet = performance.now();
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i];
    const tStep = performance.now();
    const guided = cfg && guidedStep(i, timesteps.length, req.guidanceInterval);
    const stepRows = guided || !cfg ? rows : batch;
    const scaled = scheduler.scaleModelInput(latents, t);
    const input = new Float32Array(stepRows * per);
    input.set(scaled, 0);
    if (guided) input.set(scaled, batch * per);
    const stepFeeds: Record<string, ort.Tensor> = {
      sample: floatTensor(unet.input('sample'), input, [stepRows, channels, lh, lw]),
      timestep: timestepTensor(unet.input('timestep'), t, stepRows),
      ...feeds.forRows(stepRows),
    };
    const cached = shallow && !full.has(i) ? cachedFor(cache, stepRows, batch) : undefined;
    let out: Record<string, ort.Tensor>;
    try {
      if (shallow && cached) {
        out = await shallow.run(onlyInputs(shallow, { ...stepFeeds, cached_feature: cached }));
      } else {
        out = await unet.run(stepFeeds);
        if (shallow && out.cached_feature) cache = { feature: out.cached_feature, rows: stepRows };
      }
    } catch (error) {
      if (i > 0) throw error;
      // A first-step failure is almost always a size the traced graph cannot take.
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new StudioError(
        `the UNet could not run at ${width}x${height} (${reason}); most Stable Diffusion UNets need sides that are multiples of 64 — try ${info.nativeSize}x${info.nativeSize}`,
        'bad-input',
      );
    }
    const predicted = toFloat32(out.out_sample ?? Object.values(out)[0]);
    let eps: Float32Array;
    if (guided) {
      eps = new Float32Array(batch * per);
      const off = batch * per;
      for (let j = 0; j < eps.length; j++)
        eps[j] = predicted[j] + guidance * (predicted[off + j] - predicted[j]);
    } else {
      eps = predicted.length === batch * per ? predicted : predicted.subarray(0, batch * per);
    }
    const result = scheduler.step(eps, t, latents, stepNoise.source);
    latents = result.prevSample;
    denoised = result.denoised;
    unetPerStep.push(performance.now() - tStep);
    const tPreview = performance.now();
    const preview =
      req.previewEvery > 0 && (i + 1) % req.previewEvery === 0
        ? latentPreviewPng(denoised ?? latents, channels, lh, lw)
        : undefined;
    previewMs += performance.now() - tPreview;
    hooks.onProgress({
      stage: 'denoise',
      step: i + 1,
      totalSteps: timesteps.length,
      previewPng: preview,
    });
    checkCancelled(hooks);
  }
  const unetMs = performance.now() - tUnet - previewMs;
  await model.done('unet');
  if (shallow) await model.done('unet_shallow');
  if (!latents.every(Number.isFinite)) {
    throw new StudioError(
      'the UNet produced NaN or infinite values (try fp32 or another provider)',
      'failed',
    );
  }

  // Decode. LCM decodes its last `denoised` prediction, like diffusers.
  hooks.onProgress({ stage: 'decode', step: timesteps.length, totalSteps: timesteps.length });
  const loadVae = performance.now();
  const vae = await model.acquire('vae_decoder');
  loadInside += performance.now() - loadVae;
  const tVae = performance.now();
  const final = embedsGuidance && denoised ? denoised : latents;
  const scaledLatents = new Float32Array(final.length);
  for (let i = 0; i < final.length; i++) scaledLatents[i] = final[i] / info.vaeScalingFactor;
  // A TAESD decoder (scaling factor 1, output [0, 1]) comes back in [-1, 1] like an SD VAE's.
  const pixels = await decodeLatents(vae, scaledLatents, [batch, channels, lh, lw], {
    slicing: config.vaeSlicing,
    tiling: config.vaeTiling,
    outputRange: info.vaeOutputRange,
  });
  await model.done('vae_decoder');
  const vaeMs = performance.now() - tVae;
  const ortMs = model.takeOrtMs();
  const loadMs = model.loadMs - loadBefore;
  const total = performance.now() - t0 - previewMs;
  let nonFinite = 0;
  for (let i = 0; i < pixels.length; i++) if (!Number.isFinite(pixels[i])) nonFinite++;
  if (nonFinite > 0) {
    throw new StudioError(
      `the VAE decoder produced ${nonFinite} NaN or infinite values (fp16 VAEs often do: use an fp32 decoder)`,
      'failed',
    );
  }

  const tPng = performance.now();
  const pngs = imagesToPng(pixels, batch, height, width);
  const encodeMs = performance.now() - tPng;
  hooks.onProgress({ stage: 'done', step: timesteps.length, totalSteps: timesteps.length });
  if (loadMs > 0) warnings.push(...model.warnings.splice(0));

  return {
    images: pngs.map((png) => ({ png, width, height })),
    seed: req.seed,
    steps,
    guidance,
    scheduler: schedulerName,
    timings: {
      tokenize: tokenizeMs,
      textEncoder: textEncoderMs,
      unet: unetMs,
      unetPerStep,
      vae: vaeMs,
      total,
      encode: encodeMs,
      ort: ortMs,
      load: loadMs,
    },
    warnings,
    providers: Object.fromEntries(model.providersUsed),
  };
}

/** The UNet's input sizes for static shapes (null: left as the export has it). */
function staticUnetDims(
  rows: number | null,
  lh: number,
  lw: number,
  cond: EncoderOutput,
): InputDims {
  return {
    sample: [rows, null, lh, lw],
    timestep: [rows],
    encoder_hidden_states: [rows, ...cond.dims.slice(1)],
    text_embeds: [rows, null],
    time_ids: [rows, null],
    timestep_cond: [rows, null],
  };
}

async function acquireShallow(model: ModelSessions, dims: InputDims): Promise<ComponentSession> {
  if (!existsSync(join(model.info.dir, 'unet_shallow', 'model.onnx'))) {
    throw new StudioError(
      `feature caching needs the feature-cache variant of the model (${model.info.dir} has no unet_shallow/); use the recipe feature-cache-N, which builds it`,
      'bad-input',
    );
  }
  return model.acquire('unet_shallow', dims);
}

/**
 * The UNet's per-image inputs (text conditioning and its companions) for the guided rows
 * (uncond + cond) and for the conditional rows alone, which are the second half of each tensor.
 */
class UnetFeeds {
  private readonly halves = new Map<number, Record<string, ort.Tensor>>();

  constructor(
    private readonly rows: number,
    private readonly batch: number,
    private readonly all: Record<string, ort.Tensor>,
  ) {
    this.halves.set(rows, all);
  }

  forRows(rows: number): Record<string, ort.Tensor> {
    const known = this.halves.get(rows);
    if (known) return known;
    const made = Object.fromEntries(
      Object.entries(this.all).map(([k, v]) => [k, lastRows(v, this.rows, rows)]),
    );
    this.halves.set(rows, made);
    return made;
  }
}

/** The last `keep` of a tensor's `rows` rows along its first axis (a view, no copy). */
function lastRows(t: ort.Tensor, rows: number, keep: number): ort.Tensor {
  if (t.dims[0] !== rows) return t;
  const per = t.data.length / rows;
  const data = (t.data as Float32Array).subarray((rows - keep) * per);
  return new ort.Tensor(t.type as 'float32', data as Float32Array, [keep, ...t.dims.slice(1)]);
}

/**
 * The cached feature for a shallow step of `rows` rows. A guidance interval changes the rows
 * between steps: a feature cached with both rows gives the conditional one; a step that needs
 * more rows than were cached runs the full UNet instead (undefined).
 */
function cachedFor(
  cache: { feature: ort.Tensor; rows: number } | undefined,
  rows: number,
  batch: number,
): ort.Tensor | undefined {
  if (!cache) return undefined;
  if (cache.rows === rows) return cache.feature;
  if (cache.rows === 2 * batch && rows === batch) return lastRows(cache.feature, cache.rows, rows);
  return undefined;
}

/** Feeds limited to what a session declares (an input the cut left unused may be gone). */
function onlyInputs(
  session: ComponentSession,
  feeds: Record<string, ort.Tensor>,
): Record<string, ort.Tensor> {
  return Object.fromEntries(Object.entries(feeds).filter(([k]) => session.input(k)));
}
