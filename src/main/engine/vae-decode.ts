import { floatTensor, toFloat32 } from './float16';
import type { ComponentSession } from './component-session';

export interface DecodeOptions {
  slicing: boolean;
  tiling: boolean;
  /** Tile edge in latent pixels (64 = 512 image pixels) and the overlap blended between tiles. */
  tileSize?: number;
  tileOverlap?: number;
  /**
   * What the decoder's output spans (ModelInfo.vaeOutputRange): [0, 1] for a raw TAESD decoder.
   * Mapped to [-1, 1]; absent or [-1, 1] leaves the decoder's values untouched.
   */
  outputRange?: readonly [number, number];
}

/**
 * Decoder output in [lo, hi] mapped in place to the [-1, 1] convention (x * 2 - 1 for [0, 1]).
 * [-1, 1] returns the array as it is, so an SD VAE's pixels are the decoder's, bit for bit.
 */
export function toSignedUnitRange(
  pixels: Float32Array,
  range: readonly [number, number] = [-1, 1],
): Float32Array {
  const [lo, hi] = range;
  if (lo === -1 && hi === 1) return pixels;
  const scale = 2 / (hi - lo);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (pixels[i] - lo) * scale - 1;
  return pixels;
}

async function decodeOnce(
  vae: ComponentSession,
  latents: Float32Array,
  dims: number[],
): Promise<Float32Array> {
  const out = await vae.run({
    latent_sample: floatTensor(vae.input('latent_sample'), latents, dims),
  });
  return toFloat32(out.sample ?? Object.values(out)[0]);
}

function crop(
  src: Float32Array,
  c: number,
  h: number,
  w: number,
  y0: number,
  x0: number,
  th: number,
  tw: number,
): Float32Array {
  const dst = new Float32Array(c * th * tw);
  for (let k = 0; k < c; k++)
    for (let y = 0; y < th; y++) {
      const from = k * h * w + (y0 + y) * w + x0;
      dst.set(src.subarray(from, from + tw), k * th * tw + y * tw);
    }
  return dst;
}

/** Tile start positions covering `size` with tiles of `tile` overlapping by `overlap`. */
function starts(size: number, tile: number, overlap: number): number[] {
  if (size <= tile) return [0];
  const stride = tile - overlap;
  const result: number[] = [];
  for (let s = 0; ; s += stride) {
    if (s + tile >= size) {
      result.push(size - tile);
      break;
    }
    result.push(s);
  }
  return result;
}

/**
 * Tiled decode: each overlapping latent tile is decoded alone and the results are blended with
 * linear weights that fall to zero across the overlap, so seams do not show. Memory is bounded by
 * one tile instead of the whole image.
 */
async function decodeTiled(
  vae: ComponentSession,
  latent: Float32Array,
  c: number,
  h: number,
  w: number,
  tile: number,
  overlap: number,
): Promise<Float32Array> {
  const scale = 8;
  const H = h * scale;
  const W = w * scale;
  const acc = new Float32Array(3 * H * W);
  const weight = new Float32Array(H * W);
  const th = Math.min(tile, h);
  const tw = Math.min(tile, w);
  const rampPx = overlap * scale;
  for (const y0 of starts(h, th, overlap))
    for (const x0 of starts(w, tw, overlap)) {
      const decoded = await decodeOnce(vae, crop(latent, c, h, w, y0, x0, th, tw), [1, c, th, tw]);
      const PH = th * scale;
      const PW = tw * scale;
      for (let y = 0; y < PH; y++) {
        const wy = rampPx > 0 ? Math.min(1, (Math.min(y, PH - 1 - y) + 1) / rampPx) : 1;
        const gy = y0 * scale + y;
        for (let x = 0; x < PW; x++) {
          const wx = rampPx > 0 ? Math.min(1, (Math.min(x, PW - 1 - x) + 1) / rampPx) : 1;
          const wgt = wy * wx;
          const gx = x0 * scale + x;
          weight[gy * W + gx] += wgt;
          for (let k = 0; k < 3; k++)
            acc[k * H * W + gy * W + gx] += decoded[k * PH * PW + y * PW + x] * wgt;
        }
      }
    }
  for (let i = 0; i < H * W; i++) for (let k = 0; k < 3; k++) acc[k * H * W + i] /= weight[i];
  return acc;
}

/**
 * Decodes latents [B, C, h, w] (already divided by the decoder's scaling factor) to NCHW images in
 * [-1, 1], whatever range the decoder itself emits (options.outputRange).
 */
export async function decodeLatents(
  vae: ComponentSession,
  latents: Float32Array,
  dims: [number, number, number, number],
  options: DecodeOptions,
): Promise<Float32Array> {
  return toSignedUnitRange(await decodeRaw(vae, latents, dims, options), options.outputRange);
}

/** The decoder's own output: one call, per image (slicing) or per tile (tiling). */
async function decodeRaw(
  vae: ComponentSession,
  latents: Float32Array,
  dims: [number, number, number, number],
  options: DecodeOptions,
): Promise<Float32Array> {
  const [b, c, h, w] = dims;
  if (!options.tiling && (!options.slicing || b === 1)) return decodeOnce(vae, latents, dims);
  const per = c * h * w;
  const out = new Float32Array(b * 3 * h * 8 * w * 8);
  for (let i = 0; i < b; i++) {
    const one = latents.subarray(i * per, (i + 1) * per);
    const image = options.tiling
      ? await decodeTiled(vae, one, c, h, w, options.tileSize ?? 64, options.tileOverlap ?? 8)
      : await decodeOnce(vae, one.slice(), [1, c, h, w]);
    out.set(image, i * image.length);
  }
  return out;
}
