import { PNG } from 'pngjs';

/** NCHW float image in [-1, 1] (the VAE's output convention) to a PNG per batch item. */
export function imagesToPng(
  data: Float32Array,
  batch: number,
  height: number,
  width: number,
): Uint8Array[] {
  const plane = height * width;
  const out: Uint8Array[] = [];
  for (let b = 0; b < batch; b++) {
    const png = new PNG({ width, height });
    const base = b * 3 * plane;
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) {
        const v = data[base + c * plane + i] / 2 + 0.5;
        png.data[i * 4 + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
      }
      png.data[i * 4 + 3] = 255;
    }
    out.push(PNG.sync.write(png));
  }
  return out;
}

/**
 * Approximate RGB of SD latents without running the VAE: a fixed linear map per latent channel
 * (the widely used SD 1.x "latent to RGB" factors). Cheap enough for a preview on every step.
 */
const LATENT_RGB = [
  [0.298, 0.207, 0.208],
  [0.187, 0.286, 0.173],
  [-0.158, 0.189, 0.264],
  [-0.184, -0.271, -0.473],
];

export function latentPreviewPng(
  latents: Float32Array,
  channels: number,
  h: number,
  w: number,
): Uint8Array {
  const png = new PNG({ width: w, height: h });
  const plane = h * w;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let k = 0; k < Math.min(channels, 4); k++)
        v += latents[k * plane + i] * LATENT_RGB[k][c];
      png.data[i * 4 + c] = Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
    }
    png.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(png);
}
