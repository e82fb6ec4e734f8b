import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { StudioError } from '../../shared/errors';
import { detectFamily, readJson } from '../models/model-folder';
import { ClipTokenizer } from './tokenizer/clip-tokenizer';
import { ComponentSession } from './component-session';
import type { RunConfig } from './run-config';
import { FAMILY_DEFAULTS, type Family } from '../models/family-defaults';

export { FAMILY_DEFAULTS, type Family };

const VaeConfigSchema = z.looseObject({
  _class_name: z.string().optional(),
  scaling_factor: z.number().positive().optional(),
  /** What the decoder's `sample` spans (a TAESD decoder's raw output: [0, 1]); default [-1, 1]. */
  output_range: z
    .tuple([z.number(), z.number()])
    .refine(([lo, hi]) => lo < hi, 'output_range must be [low, high] with low < high')
    .optional(),
});

/** The VAE decoder's pixel range when its config names none: diffusers' decode convention. */
export const DEFAULT_VAE_OUTPUT_RANGE: readonly [number, number] = [-1, 1];

/**
 * The decoder's latent scaling: its own config's `scaling_factor`, else AutoencoderTiny's 1.0
 * (TAESD decodes the UNet's latents as they are), else the family's SD VAE value.
 */
function vaeScalingFactor(vae: z.infer<typeof VaeConfigSchema>, family: Family): number {
  if (vae.scaling_factor !== undefined) return vae.scaling_factor;
  if (vae._class_name === 'AutoencoderTiny') return 1;
  return family === 'sdxl' ? 0.13025 : 0.18215;
}

const UnetConfigSchema = z.looseObject({
  time_cond_proj_dim: z.number().int().positive().nullable().optional(),
  sample_size: z.number().int().positive().optional(),
});
export const SchedulerFileSchema = z.looseObject({ _class_name: z.string().optional() });
const ModelIndexSchema = z.looseObject({
  force_zeros_for_empty_prompt: z.boolean().optional(),
  _name_or_path: z.string().optional(),
});

export interface ModelInfo {
  dir: string;
  family: Family;
  schedulerConfig: Record<string, unknown>;
  /** The UNet's latents are divided by it before the VAE decoder (vae_decoder/config.json). */
  vaeScalingFactor: number;
  /**
   * What the VAE decoder's output spans: [-1, 1] for SD's AutoencoderKL (and diffusers' decode of
   * any VAE), [0, 1] for a raw TAESD decoder (`output_range` in vae_decoder/config.json). The
   * decode maps it to [-1, 1], the convention imagesToPng reads.
   */
  vaeOutputRange: readonly [number, number];
  /** LCM's guidance-embedding size (unet input `timestep_cond`), if the UNet has one. */
  timeCondProjDim: number | null;
  /** Native image size in pixels (UNet sample_size x 8). */
  nativeSize: number;
  tokenizer: ClipTokenizer;
  tokenizer2: ClipTokenizer | null;
  /** SDXL: an empty negative prompt becomes all-zero conditioning (model_index.json; default true). */
  forceZerosForEmptyPrompt: boolean;
  /** A distilled few-step model (SD-Turbo, SDXL-Turbo): 1-4 steps without guidance by default. */
  fewStep: boolean;
}

/** Reads a model folder's configs and tokenizers (no sessions yet). Errors name the file. */
export async function readModelInfo(dir: string): Promise<ModelInfo> {
  if (!existsSync(join(dir, 'unet', 'model.onnx'))) {
    throw new StudioError(
      `${dir} is not a Stable Diffusion ONNX folder: unet/model.onnx is missing`,
      'bad-input',
    );
  }
  const family = detectFamily(dir);
  if (family === 'unknown')
    throw new StudioError(`${dir}: could not tell the model family`, 'bad-input');
  const schedulerFile = join(dir, 'scheduler', 'scheduler_config.json');
  if (!existsSync(schedulerFile)) {
    throw new StudioError(
      `${schedulerFile} is missing; every export has a scheduler folder`,
      'bad-input',
    );
  }
  const schedulerConfig = readJson(schedulerFile, SchedulerFileSchema) as Record<string, unknown>;
  const vaeConfigFile = join(dir, 'vae_decoder', 'config.json');
  const vae = existsSync(vaeConfigFile) ? readJson(vaeConfigFile, VaeConfigSchema) : {};
  const unetConfigFile = join(dir, 'unet', 'config.json');
  const unet = existsSync(unetConfigFile) ? readJson(unetConfigFile, UnetConfigSchema) : {};
  const tokenizerDir = join(dir, 'tokenizer');
  if (!existsSync(join(tokenizerDir, 'vocab.json'))) {
    throw new StudioError(
      `${tokenizerDir}/vocab.json is missing: the model needs its CLIP tokenizer`,
      'bad-input',
    );
  }
  const tokenizer = await ClipTokenizer.fromFolder(tokenizerDir);
  const tokenizer2 =
    family === 'sdxl' && existsSync(join(dir, 'tokenizer_2', 'vocab.json'))
      ? await ClipTokenizer.fromFolder(join(dir, 'tokenizer_2'))
      : family === 'sdxl'
        ? tokenizer
        : null;
  const indexFile = join(dir, 'model_index.json');
  const index = existsSync(indexFile) ? readJson(indexFile, ModelIndexSchema) : {};
  return {
    dir,
    family,
    forceZerosForEmptyPrompt: index.force_zeros_for_empty_prompt ?? true,
    fewStep:
      family === 'sd-turbo' ||
      (family === 'sdxl' && /turbo/i.test(`${dir} ${index._name_or_path ?? ''}`)),
    schedulerConfig,
    vaeScalingFactor: vaeScalingFactor(vae, family),
    vaeOutputRange: vae.output_range ?? DEFAULT_VAE_OUTPUT_RANGE,
    timeCondProjDim: unet.time_cond_proj_dim ?? null,
    nativeSize: (unet.sample_size ?? (family === 'sdxl' ? 128 : 64)) * 8,
    tokenizer,
    tokenizer2,
  };
}

export const REQUIRED_UNET_INPUTS: Record<Family, string[]> = {
  sd1: ['sample', 'timestep', 'encoder_hidden_states'],
  sd2: ['sample', 'timestep', 'encoder_hidden_states'],
  'sd-turbo': ['sample', 'timestep', 'encoder_hidden_states'],
  lcm: ['sample', 'timestep', 'encoder_hidden_states', 'timestep_cond'],
  sdxl: ['sample', 'timestep', 'encoder_hidden_states', 'text_embeds', 'time_ids'],
};

export type ComponentName =
  | 'text_encoder'
  | 'text_encoder_2'
  | 'unet'
  /** The feature cache's shallow UNet (optimize/feature-cache.ts). */
  | 'unet_shallow'
  | 'vae_decoder';

/** Loads component sessions and checks each against its family's expected inputs. */
export async function loadComponent(
  info: ModelInfo,
  component: ComponentName,
  config: RunConfig,
  graphFile?: string,
): Promise<ComponentSession> {
  const session = await ComponentSession.load(info.dir, component, config, graphFile);
  if (component === 'unet') session.requireInputs(REQUIRED_UNET_INPUTS[info.family], info.family);
  if (component === 'unet_shallow')
    session.requireInputs([...REQUIRED_UNET_INPUTS[info.family], 'cached_feature'], info.family);
  if (component === 'text_encoder' || component === 'text_encoder_2')
    session.requireInputs(['input_ids'], info.family);
  if (component === 'vae_decoder') session.requireInputs(['latent_sample'], info.family);
  return session;
}
