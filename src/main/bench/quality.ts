import { PNG } from 'pngjs';
import { ssim as ssimJs, type Options as SsimOptions } from 'ssim.js';
import { StudioError } from '../../shared/errors';

/**
 * Image quality of an optimized recipe against the baseline image of the same case and seed.
 * SSIM comes from ssim.js; PSNR, differences and the heatmap are a few lines of arithmetic over
 * the RGBA bytes, which no dependency we have does for us.
 */

/** Classic recipe: a recipe's images are acceptable when SSIM > 0.85 and PSNR > 25 dB. */
export const SSIM_ACCEPTABLE = 0.85;
export const PSNR_ACCEPTABLE_DB = 25;
/** Classic recipe: below this SSIM the optimization changed the picture, not just its detail. */
export const SSIM_OVER_OPTIMIZED = 0.8;
/**
 * PSNR of identical images is +Infinity, which JSON writes as null and SQLite REAL cannot hold
 * portably. Every PSNR we return is capped here: 100 dB is far past anything visible (one 8-bit
 * level of error on every pixel is already 48 dB), so the cap loses nothing a person could see.
 * `maxAbsDiff === 0` says whether two images are exactly identical.
 */
export const PSNR_CAP_DB = 100;
/**
 * The heatmap maps a pixel's mean absolute RGB difference linearly onto the colormap from 0
 * (black) to this many 8-bit levels (white, and everything above). A fixed scale, not the image's
 * own maximum, so that two heatmaps from different runs can be compared by eye: one third of the
 * way (~21 levels) is full red, two thirds (~43) full yellow.
 */
export const HEATMAP_FULL_SCALE = 64;
/** A failed decode (NaN latents clamped, a dead VAE) comes out black: mean below 2/255... */
export const BLACK_MEAN_MAX = 2;
/** ...and no channel value brighter than this (a few stars on black is still a picture). */
export const BLACK_MAX_VALUE = 16;
/** Uniform: every channel's standard deviation below 1/255, i.e. one flat colour. */
export const UNIFORM_STD_MAX = 1;
/** SSIM window of the reference implementation (Wang et al. 2004), shrunk for smaller images. */
export const SSIM_WINDOW = 11;

/** RGBA, 8 bits per channel, row-major: what pngjs decodes to and what the engine encodes. */
export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
}
/** A PNG file's bytes, or an already decoded image. */
export type ImageInput = Uint8Array | DecodedImage;

export interface QualityMetrics {
  /** Mean SSIM of the BT.601 luminance of both images (the classic recipe's grayscale SSIM). */
  ssim: number;
  /** Mean SSIM of each colour channel on its own. */
  ssimRgb: { r: number; g: number; b: number };
  /** PSNR over the R, G and B values together, in dB, capped at PSNR_CAP_DB. */
  psnr: number;
  /** Largest absolute difference of any R, G or B value, in 8-bit levels (0 = identical). */
  maxAbsDiff: number;
  /** Mean absolute difference over R, G and B values, in 8-bit levels. */
  meanAbsDiff: number;
}

export type QualityVerdict = 'acceptable' | 'degraded' | 'over-optimized';

export interface ImageInspection {
  isBlack: boolean;
  isUniform: boolean;
  /** Mean of all R, G, B values in 8-bit levels. */
  mean: number;
  /** Brightest R, G or B value. */
  max: number;
  /** Largest per-channel standard deviation, in 8-bit levels. */
  maxChannelStd: number;
  /** Why this image counts as a failed generation, or null when it looks like a picture. */
  problem: 'black' | 'uniform' | null;
}

export interface FiniteCheck {
  finite: boolean;
  nanCount: number;
  infCount: number;
  /** Index of the first NaN or ±Infinity, or -1. */
  firstBadIndex: number;
}

function isDecoded(input: ImageInput): input is DecodedImage {
  return !(input instanceof Uint8Array);
}

/** Decodes a PNG to 8-bit RGBA; pngjs expands palette/grey images and rescales 16-bit ones. */
export function decodePng(png: Uint8Array, label = 'image'): DecodedImage {
  try {
    const buffer = Buffer.isBuffer(png) ? png : Buffer.from(png.buffer, png.byteOffset, png.length);
    const decoded = PNG.sync.read(buffer);
    return { data: decoded.data, width: decoded.width, height: decoded.height };
  } catch (e) {
    throw new StudioError(
      `${label} is not a readable PNG: ${e instanceof Error ? e.message : String(e)}`,
      'bad-input',
    );
  }
}

function toDecoded(input: ImageInput, label: string): DecodedImage {
  if (!isDecoded(input)) return decodePng(input, label);
  const { data, width, height } = input;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new StudioError(`${label} has invalid size ${width}x${height}`, 'bad-input');
  }
  if (data.length !== width * height * 4) {
    throw new StudioError(
      `${label} has ${data.length} bytes but ${width}x${height} RGBA needs ${width * height * 4}`,
      'bad-input',
    );
  }
  return input;
}

function sameSize(a: DecodedImage, b: DecodedImage): void {
  if (a.width !== b.width || a.height !== b.height) {
    throw new StudioError(
      `cannot compare images of different sizes: baseline is ${a.width}x${a.height}, candidate is ${b.width}x${b.height}; compare images generated at the same size`,
      'bad-input',
    );
  }
}

/**
 * The SSIM window for an image: 11 (the reference) unless the image is smaller, then the largest
 * odd size that fits. ssim.js filters with 'valid' convolution and silently returns NaN when the
 * window is larger than the image, so an 8x8 image needs a 7x7 window. Our bundled model makes
 * 64x64 images, for which 11 fits (a 54x54 SSIM map).
 */
export function ssimWindowFor(width: number, height: number): number {
  const side = Math.min(width, height, SSIM_WINDOW);
  return side % 2 === 1 ? side : side - 1;
}

/**
 * ssim.js settings, and why:
 * - `ssim: 'fast'`: the Gaussian-window (σ 1.5) SSIM of Wang et al., mathematically the same as
 *   their MATLAB ssim.m; the library's default 'weber' uses a box window on rounded integers.
 * - `rgb2grayVersion: 'original'`: BT.601 weights (0.299, 0.587, 0.114), as MATLAB rgb2gray,
 *   OpenCV and PIL's "L" convert to luminance.
 * - `downsample: false`: ssim.m shrinks images to ~256 px first; our images are at most 1024 px
 *   (SDXL) and fine detail is exactly what quantization changes, so every pixel counts. 512x512
 *   takes ~0.2 s.
 */
function ssimOptions(width: number, height: number): Partial<SsimOptions> {
  return {
    ssim: 'fast',
    rgb2grayVersion: 'original',
    downsample: false,
    windowSize: ssimWindowFor(width, height),
  };
}

function asImageData(img: DecodedImage): {
  data: Uint8ClampedArray;
  width: number;
  height: number;
} {
  return {
    data: new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length),
    width: img.width,
    height: img.height,
  };
}

/** One channel copied into R, G and B: ssim.js's grey conversion then returns that channel exactly
 * (the BT.601 weights sum to 1), which gives per-channel SSIM without a second SSIM library. */
function channelImage(
  img: DecodedImage,
  channel: 0 | 1 | 2,
): { data: Uint8ClampedArray; width: number; height: number } {
  const n = img.width * img.height;
  const data = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    const v = img.data[i * 4 + channel];
    data[i * 4] = v;
    data[i * 4 + 1] = v;
    data[i * 4 + 2] = v;
    data[i * 4 + 3] = 255;
  }
  return { data, width: img.width, height: img.height };
}

/** SSIM, per-channel SSIM, PSNR and differences of a candidate against the baseline image.
 * Alpha is ignored: the engine writes opaque images. */
export function compareImages(baseline: ImageInput, candidate: ImageInput): QualityMetrics {
  const a = toDecoded(baseline, 'baseline image');
  const b = toDecoded(candidate, 'candidate image');
  sameSize(a, b);
  const options = ssimOptions(a.width, a.height);

  const ssim = ssimJs(asImageData(a), asImageData(b), options).mssim;
  const channelSsim = (c: 0 | 1 | 2): number =>
    ssimJs(channelImage(a, c), channelImage(b, c), options).mssim;

  const n = a.width * a.height;
  let squared = 0;
  let absolute = 0;
  let maxAbsDiff = 0;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const d = Math.abs(a.data[i * 4 + c] - b.data[i * 4 + c]);
      squared += d * d;
      absolute += d;
      if (d > maxAbsDiff) maxAbsDiff = d;
    }
  }
  const mse = squared / (n * 3);
  const psnr = mse === 0 ? PSNR_CAP_DB : Math.min(PSNR_CAP_DB, 10 * Math.log10((255 * 255) / mse));
  return {
    ssim,
    ssimRgb: { r: channelSsim(0), g: channelSsim(1), b: channelSsim(2) },
    psnr,
    maxAbsDiff,
    meanAbsDiff: absolute / (n * 3),
  };
}

/** The classic recipe's verdict. A NaN SSIM or PSNR (a broken image) counts as over-optimized. */
export function qualityVerdict(ssim: number, psnr: number): QualityVerdict {
  if (Number.isNaN(ssim) || Number.isNaN(psnr) || ssim < SSIM_OVER_OPTIMIZED) {
    return 'over-optimized';
  }
  return ssim > SSIM_ACCEPTABLE && psnr > PSNR_ACCEPTABLE_DB ? 'acceptable' : 'degraded';
}

/** MATLAB's "hot" map (black → red → yellow → white): luminance rises monotonically, so larger
 * differences always look brighter, also in greyscale print. */
function hot(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * 3;
  const ch = (v: number): number => Math.round(Math.min(1, Math.max(0, v)) * 255);
  return [ch(x), ch(x - 1), ch(x - 2)];
}

/**
 * A PNG the size of the images where each pixel shows that pixel's mean absolute R, G, B
 * difference on the hot colormap, from 0 (black) to `fullScale` 8-bit levels or more (white).
 */
export function diffHeatmap(
  baseline: ImageInput,
  candidate: ImageInput,
  fullScale: number = HEATMAP_FULL_SCALE,
): Uint8Array {
  if (!(fullScale > 0)) throw new StudioError('heatmap full scale must be positive', 'bad-input');
  const a = toDecoded(baseline, 'baseline image');
  const b = toDecoded(candidate, 'candidate image');
  sameSize(a, b);
  const out = new PNG({ width: a.width, height: a.height });
  const n = a.width * a.height;
  for (let i = 0; i < n; i++) {
    const p = i * 4;
    const d =
      (Math.abs(a.data[p] - b.data[p]) +
        Math.abs(a.data[p + 1] - b.data[p + 1]) +
        Math.abs(a.data[p + 2] - b.data[p + 2])) /
      3;
    const [r, g, bl] = hot(d / fullScale);
    out.data[p] = r;
    out.data[p + 1] = g;
    out.data[p + 2] = bl;
    out.data[p + 3] = 255;
  }
  return PNG.sync.write(out);
}

/** Heuristics that flag a generated image as a failure rather than a (bad) picture. */
export function inspectImage(image: ImageInput): ImageInspection {
  const img = toDecoded(image, 'image');
  const n = img.width * img.height;
  const sum = [0, 0, 0];
  const sumSq = [0, 0, 0];
  let max = 0;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = img.data[i * 4 + c];
      sum[c] += v;
      sumSq[c] += v * v;
      if (v > max) max = v;
    }
  }
  const mean = (sum[0] + sum[1] + sum[2]) / (n * 3);
  const maxChannelStd = Math.max(
    ...[0, 1, 2].map((c) => Math.sqrt(Math.max(0, sumSq[c] / n - (sum[c] / n) ** 2))),
  );
  const isBlack = mean < BLACK_MEAN_MAX && max <= BLACK_MAX_VALUE;
  const isUniform = maxChannelStd < UNIFORM_STD_MAX;
  return {
    isBlack,
    isUniform,
    mean,
    max,
    maxChannelStd,
    problem: isBlack ? 'black' : isUniform ? 'uniform' : null,
  };
}

/** Counts NaN and ±Infinity in decoded VAE output (or latents): a PNG cannot show them, since the
 * encoder's clamp turns NaN into black, so check before encoding. */
export function checkFinite(values: Float32Array | Float64Array): FiniteCheck {
  let nanCount = 0;
  let infCount = 0;
  let firstBadIndex = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) continue;
    if (Number.isNaN(v)) nanCount++;
    else infCount++;
    if (firstBadIndex < 0) firstBadIndex = i;
  }
  return { finite: firstBadIndex < 0, nanCount, infCount, firstBadIndex };
}
