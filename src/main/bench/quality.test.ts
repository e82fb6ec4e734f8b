import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  BLACK_MEAN_MAX,
  checkFinite,
  compareImages,
  decodePng,
  diffHeatmap,
  HEATMAP_FULL_SCALE,
  inspectImage,
  PSNR_CAP_DB,
  qualityVerdict,
  ssimWindowFor,
  type DecodedImage,
} from './quality';

function image(
  width: number,
  height: number,
  pixel: (x: number, y: number) => [number, number, number],
): DecodedImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      const p = (y * width + x) * 4;
      data[p] = r;
      data[p + 1] = g;
      data[p + 2] = b;
      data[p + 3] = 255;
    }
  return { data, width, height };
}

function png(img: DecodedImage): Uint8Array {
  const out = new PNG({ width: img.width, height: img.height });
  out.data.set(img.data);
  return PNG.sync.write(out);
}

/** A deterministic textured 64x64 image, like the bundled model's output size. */
const textured = (w = 64, h = 64): DecodedImage =>
  image(w, h, (x, y) => [(x * 4) % 256, (y * 4) % 256, ((x * y) / 2) % 256]);

/** Deterministic pseudo-noise so the tests never depend on Math.random. */
function noise(i: number): number {
  const s = Math.sin(i * 12.9898) * 43758.5453;
  return s - Math.floor(s);
}

function perturb(img: DecodedImage, amplitude: number): DecodedImage {
  const data = Uint8Array.from(img.data, (v, i) =>
    i % 4 === 3 ? v : Math.max(0, Math.min(255, Math.round(v + (noise(i) - 0.5) * 2 * amplitude))),
  );
  return { ...img, data };
}

describe('compareImages', () => {
  it('identical images: SSIM 1, PSNR capped, no difference', () => {
    const a = textured();
    const m = compareImages(png(a), png(a));
    expect(m.ssim).toBeCloseTo(1, 10);
    expect(m.ssimRgb.r).toBeCloseTo(1, 10);
    expect(m.ssimRgb.g).toBeCloseTo(1, 10);
    expect(m.ssimRgb.b).toBeCloseTo(1, 10);
    expect(m.psnr).toBe(PSNR_CAP_DB);
    expect(m.maxAbsDiff).toBe(0);
    expect(m.meanAbsDiff).toBe(0);
    expect(JSON.parse(JSON.stringify(m)).psnr).toBe(PSNR_CAP_DB);
  });

  it('PSNR matches the formula for a uniform offset', () => {
    const a = image(16, 16, () => [100, 100, 100]);
    const b = image(16, 16, () => [110, 100, 100]);
    // MSE over R, G, B = 100 / 3.
    const expected = 10 * Math.log10((255 * 255) / (100 / 3));
    const m = compareImages(a, b);
    expect(m.psnr).toBeCloseTo(expected, 10);
    expect(m.maxAbsDiff).toBe(10);
    expect(m.meanAbsDiff).toBeCloseTo(10 / 3, 10);
  });

  it('more noise lowers SSIM and PSNR monotonically', () => {
    const a = textured();
    const small = compareImages(a, perturb(a, 4));
    const large = compareImages(a, perturb(a, 40));
    expect(small.ssim).toBeLessThan(1);
    expect(large.ssim).toBeLessThan(small.ssim);
    expect(large.psnr).toBeLessThan(small.psnr);
    expect(small.psnr).toBeGreaterThan(30);
  });

  it('per-channel SSIM isolates the channel that changed', () => {
    const a = textured();
    const data = Uint8Array.from(a.data);
    for (let i = 0; i < data.length; i += 4) data[i + 2] = 255 - data[i + 2];
    const m = compareImages(a, { ...a, data });
    expect(m.ssimRgb.r).toBeCloseTo(1, 10);
    expect(m.ssimRgb.g).toBeCloseTo(1, 10);
    expect(m.ssimRgb.b).toBeLessThan(0.5);
  });

  it('accepts Buffers and Uint8Arrays alike', () => {
    const a = textured();
    const viaBuffer = compareImages(Buffer.from(png(a)), { ...a, data: Buffer.from(a.data) });
    expect(viaBuffer.ssim).toBeCloseTo(1, 10);
  });

  it('works on images smaller than the 11-pixel SSIM window', () => {
    const a = textured(8, 8);
    expect(ssimWindowFor(8, 8)).toBe(7);
    expect(ssimWindowFor(64, 64)).toBe(11);
    expect(ssimWindowFor(6, 20)).toBe(5);
    expect(ssimWindowFor(1, 1)).toBe(1);
    const m = compareImages(a, perturb(a, 10));
    expect(Number.isFinite(m.ssim)).toBe(true);
    expect(m.ssim).toBeGreaterThan(0);
    expect(m.ssim).toBeLessThan(1);
    expect(
      compareImages(
        image(1, 1, () => [5, 5, 5]),
        image(1, 1, () => [5, 5, 5]),
      ).ssim,
    ).toBe(1);
  });

  it('refuses images of different sizes, naming both', () => {
    expect(() => compareImages(textured(64, 64), textured(32, 64))).toThrow(/64x64.*32x64/);
  });

  it('refuses bytes that are not a PNG and RGBA buffers of the wrong length', () => {
    expect(() => compareImages(new Uint8Array([1, 2, 3]), textured())).toThrow(
      /baseline image is not a readable PNG/,
    );
    expect(() =>
      compareImages(textured(), { data: new Uint8Array(10), width: 64, height: 64 }),
    ).toThrow(/candidate image has 10 bytes/);
  });
});

describe('qualityVerdict', () => {
  it('follows the classic thresholds', () => {
    expect(qualityVerdict(0.9, 30)).toBe('acceptable');
    expect(qualityVerdict(0.85, 30)).toBe('degraded');
    expect(qualityVerdict(0.9, 25)).toBe('degraded');
    expect(qualityVerdict(0.82, 40)).toBe('degraded');
    expect(qualityVerdict(0.8, 40)).toBe('degraded');
    expect(qualityVerdict(0.79, 40)).toBe('over-optimized');
    expect(qualityVerdict(1, PSNR_CAP_DB)).toBe('acceptable');
    expect(qualityVerdict(Number.NaN, 30)).toBe('over-optimized');
  });
});

describe('diffHeatmap', () => {
  it('is black where identical and follows the fixed scale elsewhere', () => {
    const a = image(4, 1, () => [100, 100, 100]);
    // Differences of 0, 1/3, 2/3 and more than the full scale, as a mean over R, G, B.
    const b = image(
      4,
      1,
      (x) =>
        [
          [100, 100, 100],
          [130, 100, 100],
          [120, 120, 120],
          [255, 255, 0],
        ][x] as [number, number, number],
    );
    const heat = decodePng(diffHeatmap(png(a), b, 30));
    expect([heat.width, heat.height]).toEqual([4, 1]);
    const px = (i: number): number[] => Array.from(heat.data.slice(i * 4, i * 4 + 4));
    expect(px(0)).toEqual([0, 0, 0, 255]);
    expect(px(1)).toEqual([255, 0, 0, 255]);
    expect(px(2)).toEqual([255, 255, 0, 255]);
    expect(px(3)).toEqual([255, 255, 255, 255]);
  });

  it('saturates at HEATMAP_FULL_SCALE by default', () => {
    const a = image(2, 1, () => [0, 0, 0]);
    const b = image(2, 1, (x) =>
      x === 0
        ? [HEATMAP_FULL_SCALE, HEATMAP_FULL_SCALE, HEATMAP_FULL_SCALE]
        : [HEATMAP_FULL_SCALE - 1, HEATMAP_FULL_SCALE - 1, HEATMAP_FULL_SCALE - 1],
    );
    const heat = decodePng(diffHeatmap(a, b));
    expect(Array.from(heat.data.slice(0, 3))).toEqual([255, 255, 255]);
    expect(heat.data[6]).toBeLessThan(255);
  });

  it('refuses different sizes', () => {
    expect(() => diffHeatmap(textured(8, 8), textured(8, 9))).toThrow(/different sizes/);
  });
});

describe('inspectImage', () => {
  it('flags black images', () => {
    const r = inspectImage(png(image(64, 64, () => [0, 0, 0])));
    expect(r).toMatchObject({ isBlack: true, isUniform: true, problem: 'black' });
    const nearlyBlack = image(64, 64, (x, y) => (x === 3 && y === 3 ? [10, 10, 10] : [1, 1, 1]));
    expect(inspectImage(nearlyBlack).isBlack).toBe(true);
    expect(inspectImage(nearlyBlack).mean).toBeLessThan(BLACK_MEAN_MAX);
  });

  it('does not flag a dark picture with a bright spot as black', () => {
    const stars = image(64, 64, (x, y) => ((x * 7 + y) % 97 === 0 ? [255, 255, 255] : [0, 0, 0]));
    const r = inspectImage(stars);
    expect(r.isBlack).toBe(false);
    expect(r.problem).toBeNull();
  });

  it('flags a flat colour as uniform but not black', () => {
    const r = inspectImage(image(32, 32, () => [200, 30, 90]));
    expect(r).toMatchObject({ isBlack: false, isUniform: true, problem: 'uniform' });
  });

  it('passes a textured picture', () => {
    expect(inspectImage(textured())).toMatchObject({
      isBlack: false,
      isUniform: false,
      problem: null,
    });
  });
});

describe('checkFinite', () => {
  it('counts NaN and infinities and finds the first one', () => {
    expect(checkFinite(new Float32Array([0, 1, -1]))).toEqual({
      finite: true,
      nanCount: 0,
      infCount: 0,
      firstBadIndex: -1,
    });
    expect(checkFinite(new Float32Array([0, Infinity, NaN, -Infinity, NaN]))).toEqual({
      finite: false,
      nanCount: 2,
      infCount: 2,
      firstBadIndex: 1,
    });
  });
});
