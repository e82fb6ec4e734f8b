import * as ort from 'onnxruntime-node';
import { intTensor, type ComponentSession } from './component-session';
import { toFloat32 } from './float16';
import { StudioError } from '../../shared/errors';
import type { ClipTokenizer } from './tokenizer/clip-tokenizer';

export interface Tokenized {
  /** Row-major [rows, 77] ids; rows are [uncond x B, cond x B] with guidance, else [cond x B]. */
  ids: number[];
  rows: number;
  length: number;
  truncated: boolean;
}

export function tokenizeBatch(tokenizer: ClipTokenizer, prompts: string[]): Tokenized {
  const ids: number[] = [];
  let truncated = false;
  let length = 0;
  for (const prompt of prompts) {
    const enc = tokenizer.encode(prompt);
    truncated ||= enc.truncated;
    length = enc.ids.length;
    ids.push(...enc.ids);
  }
  return { ids, rows: prompts.length, length, truncated };
}

export interface EncoderOutput {
  hidden: Float32Array;
  dims: number[];
  /** SDXL: encoder 2's projected pooled embedding (`text_embeds`). */
  pooled?: Float32Array;
  pooledDims?: number[];
}

/**
 * Runs a CLIP text encoder. SD 1/2 use `last_hidden_state`; SDXL uses the penultimate entry of
 * `hidden_states.*` (diffusers' `hidden_states[-2]`) and, from encoder 2, `text_embeds`.
 */
export async function encodeText(
  encoder: ComponentSession,
  tokens: Tokenized,
  penultimate: boolean,
): Promise<EncoderOutput> {
  const inputIds = intTensor(encoder.input('input_ids'), tokens.ids, [tokens.rows, tokens.length]);
  const out = await encoder.run({ input_ids: inputIds });
  let hidden: ort.Tensor = out.last_hidden_state ?? Object.values(out)[0];
  if (penultimate) {
    const layers = Object.keys(out)
      .filter((k) => k.startsWith('hidden_states.'))
      .map((k) => Number(k.slice('hidden_states.'.length)))
      .sort((a, b) => a - b);
    if (layers.length < 2) {
      throw new StudioError(
        `${encoder.file} has no hidden_states.* outputs; SDXL needs the penultimate layer (export with output_hidden_states)`,
        'bad-input',
      );
    }
    hidden = out[`hidden_states.${layers[layers.length - 2]}`];
  }
  const pooled = out.text_embeds;
  return {
    hidden: toFloat32(hidden),
    dims: [...hidden.dims],
    pooled: pooled ? toFloat32(pooled) : undefined,
    pooledDims: pooled ? [...pooled.dims] : undefined,
  };
}

/** Concatenates two [rows, seq, d] tensors along the last axis (SDXL's CLIP-L ‖ bigG). */
export function concatLastAxis(a: EncoderOutput, b: EncoderOutput): EncoderOutput {
  const [rows, seq, da] = a.dims;
  const db = b.dims[2];
  const hidden = new Float32Array(rows * seq * (da + db));
  for (let r = 0; r < rows * seq; r++) {
    hidden.set(a.hidden.subarray(r * da, (r + 1) * da), r * (da + db));
    hidden.set(b.hidden.subarray(r * db, (r + 1) * db), r * (da + db) + da);
  }
  return { hidden, dims: [rows, seq, da + db], pooled: b.pooled, pooledDims: b.pooledDims };
}

/**
 * LCM's guidance embedding: w = g - 1, scaled by 1000, as sin/cos features of size `dim`
 * (diffusers' get_guidance_scale_embedding).
 */
export function guidanceEmbedding(guidance: number, dim: number, batch: number): Float32Array {
  const w = (guidance - 1) * 1000;
  const half = dim / 2;
  const out = new Float32Array(batch * dim);
  const scale = Math.log(10000) / (half - 1);
  for (let i = 0; i < half; i++) {
    const f = w * Math.exp(-scale * i);
    for (let b = 0; b < batch; b++) {
      out[b * dim + i] = Math.sin(f);
      out[b * dim + half + i] = Math.cos(f);
    }
  }
  return out;
}
