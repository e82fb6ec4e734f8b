import { PNG } from 'pngjs';

/**
 * Prompt adherence for the shapes vocabulary (the bundled tiny-shapes model and anything trained on
 * its captions): does the picture show the shape and the colours the prompt names? The same
 * metric as the model forge's `adherence.py`: background = median of the 2-pixel border, the shape
 * = pixels far from it, its colour = their median, colours classified by the nearest palette entry,
 * the shape by the best IoU of the four templates stretched to the detected box.
 *
 * A distilled model (LCM-LoRA) does not reproduce the teacher's pixels, so SSIM against the
 * baseline says little about it; this says whether it still draws what was asked.
 */

export const PALETTE: Record<string, readonly [number, number, number]> = {
  red: [220, 30, 30],
  orange: [250, 140, 20],
  yellow: [245, 225, 40],
  green: [30, 160, 60],
  blue: [30, 70, 220],
  purple: [140, 50, 190],
  white: [245, 245, 245],
  black: [15, 15, 15],
};
export const SHAPES = ['circle', 'square', 'triangle', 'star'] as const;
export type Shape = (typeof SHAPES)[number];

export interface PromptTarget {
  shape?: Shape;
  fg?: string;
  bg?: string;
}

/** What a prompt asks for: "a red circle on a blue background" → shape, fg, bg (each optional). */
export function promptTarget(prompt: string): PromptTarget | undefined {
  const words: string[] = prompt.toLowerCase().match(/[a-z]+/g) ?? [];
  const shapeAt = words.findIndex((w) => (SHAPES as readonly string[]).includes(w));
  const colours = words.map((w, i) => [w, i] as const).filter(([w]) => w in PALETTE);
  if (shapeAt < 0 && colours.length === 0) return undefined;
  const target: PromptTarget = {};
  if (shapeAt >= 0) target.shape = words[shapeAt] as Shape;
  const bgAt = words.indexOf('background');
  for (const [w, i] of colours) {
    if (bgAt >= 0 && i > shapeAt && i < bgAt) target.bg ??= w;
    else target.fg ??= w;
  }
  return target;
}

/**
 * Whether a prompt is in the shapes vocabulary, so its adherence means something: it must name a
 * shape. A colour word alone is not enough: "a portrait of a woman with blue eyes" (the classic
 * benchmark set) would otherwise be checked for a blue shape on a real photo.
 */
export function isShapesPrompt(prompt: string): boolean {
  return promptTarget(prompt)?.shape !== undefined;
}

export interface Detected {
  bg: string;
  fg?: string;
  shape?: Shape;
}

const nearest = (rgb: readonly number[]): string => {
  let best = '';
  let bestD = Infinity;
  for (const [name, p] of Object.entries(PALETTE)) {
    const d = (rgb[0] - p[0]) ** 2 + (rgb[1] - p[1]) ** 2 + (rgb[2] - p[2]) ** 2;
    if (d < bestD) [best, bestD] = [name, d];
  }
  return best;
};

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

type Pt = readonly [number, number];

/** Vertices of an upward-pointing regular k-gon (inner = 0) or k-pointed star (as the forge draws). */
function polygon(k: number, r: number, inner: number): Pt[] {
  const steps = inner ? k * 2 : k;
  return Array.from({ length: steps }, (_, i) => {
    const ang = -Math.PI / 2 + (i * 2 * Math.PI) / steps;
    const rad = i % 2 === 0 || !inner ? r : r * inner;
    return [rad * Math.cos(ang), rad * Math.sin(ang)] as const;
  });
}

function inConvex(x: number, y: number, v: readonly Pt[]): boolean {
  for (let i = 0; i < v.length; i++) {
    const [ax, ay] = v[i];
    const [bx, by] = v[(i + 1) % v.length];
    if ((bx - ax) * (y - ay) - (by - ay) * (x - ax) < 0) return false;
  }
  return true;
}

function insideShape(shape: Shape, x: number, y: number, r: number): boolean {
  switch (shape) {
    case 'circle':
      return x * x + y * y <= r * r;
    case 'square':
      return Math.abs(x) <= 0.85 * r && Math.abs(y) <= 0.85 * r;
    case 'triangle':
      return inConvex(x, y, polygon(3, r, 0));
    case 'star': {
      const v = polygon(5, r, 0.45);
      if (
        inConvex(
          x,
          y,
          v.filter((_, i) => i % 2 === 1),
        )
      )
        return true;
      for (let i = 0; i < 10; i += 2)
        if (inConvex(x, y, [v[i], v[(i + 1) % 10], v[(i + 9) % 10]])) return true;
      return false;
    }
  }
}

const templates = new Map<Shape, { w: number; h: number; m: Uint8Array }>();

/** Each shape rendered large once (radius 28 on 64 px, 2x supersampled), cropped to its box. */
function template(shape: Shape): { w: number; h: number; m: Uint8Array } {
  const cached = templates.get(shape);
  if (cached) return cached;
  const n = 128;
  const full = new Uint8Array(n * n);
  let [x0, y0, x1, y1] = [n, n, -1, -1];
  for (let j = 0; j < n; j++)
    for (let i = 0; i < n; i++) {
      if (!insideShape(shape, (i + 0.5) / 2 - 32, (j + 0.5) / 2 - 32, 28)) continue;
      full[j * n + i] = 1;
      [x0, y0, x1, y1] = [Math.min(x0, i), Math.min(y0, j), Math.max(x1, i), Math.max(y1, j)];
    }
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const m = new Uint8Array(w * h);
  for (let j = 0; j < h; j++)
    for (let i = 0; i < w; i++) m[j * w + i] = full[(y0 + j) * n + x0 + i];
  const t = { w, h, m };
  templates.set(shape, t);
  return t;
}

/** RGBA pixels as pngjs decodes them (a `PNG`, or quality.ts's `DecodedImage`). */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The forge's analysis of one image (RGBA as decoded by pngjs). */
export function analyseShapeImage(png: RgbaImage): Detected {
  const { width: w, height: h, data } = png;
  const border: number[][] = [[], [], []];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      if (x > 1 && y > 1 && x < w - 2 && y < h - 2) continue;
      for (let c = 0; c < 3; c++) border[c].push(data[(y * w + x) * 4 + c]);
    }
  const bgRgb = border.map(median);
  const fgPix: number[][] = [[], [], []];
  const mask = new Uint8Array(w * h);
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      const d = Math.hypot(data[i] - bgRgb[0], data[i + 1] - bgRgb[1], data[i + 2] - bgRgb[2]);
      if (d <= 70) continue;
      mask[y * w + x] = 1;
      for (let c = 0; c < 3; c++) fgPix[c].push(data[i + c]);
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
  const out: Detected = { bg: nearest(bgRgb) };
  if (fgPix[0].length < 20) return out;
  out.fg = nearest(fgPix.map(median));
  let bestIou = -1;
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  for (const s of SHAPES) {
    const t = template(s);
    let inter = 0;
    let union = 0;
    for (let j = 0; j < bh; j++)
      for (let i = 0; i < bw; i++) {
        // Nearest-neighbour resize of the template to the detected box, as the forge does.
        const tv = t.m[Math.floor((j * t.h) / bh) * t.w + Math.floor((i * t.w) / bw)] === 1;
        const mv = mask[(y0 + j) * w + x0 + i] === 1;
        if (tv && mv) inter++;
        if (tv || mv) union++;
      }
    const iou = inter / Math.max(1, union);
    if (iou > bestIou) [out.shape, bestIou] = [s, iou];
  }
  return out;
}

export interface AdherenceResult {
  /** Checks asked by the prompt (shape, fg, bg) and how many the image passed. */
  checks: number;
  passed: number;
  /** Every check passed. */
  all: boolean;
  target: PromptTarget;
  detected: Detected;
}

/**
 * Adherence of one image to its prompt; undefined when the prompt names no shape or colour.
 * Takes encoded PNG bytes, or pixels already decoded (the quality worker decodes once).
 */
export function shapeAdherence(
  prompt: string,
  png: Uint8Array | RgbaImage,
): AdherenceResult | undefined {
  const target = promptTarget(prompt);
  if (!target) return undefined;
  const detected = analyseShapeImage(
    png instanceof Uint8Array ? PNG.sync.read(Buffer.from(png)) : png,
  );
  const pairs: [string | undefined, string | undefined][] = [
    [target.shape, detected.shape],
    [target.fg, detected.fg],
    [target.bg, detected.bg],
  ];
  const asked = pairs.filter(([want]) => want !== undefined);
  const passed = asked.filter(([want, got]) => want === got).length;
  return { checks: asked.length, passed, all: passed === asked.length, target, detected };
}

/** Over many images: the share with every check passed, and the share of single checks passed. */
export function adherenceSummary(
  results: readonly (Pick<AdherenceResult, 'checks' | 'passed' | 'all'> | undefined)[],
): {
  images: number;
  allCorrect: number;
  checksPassed: number;
} {
  const r = results.filter((x) => x !== undefined);
  const checks = r.reduce((a, x) => a + x.checks, 0);
  return {
    images: r.length,
    allCorrect: r.length ? r.filter((x) => x.all).length / r.length : 0,
    checksPassed: checks ? r.reduce((a, x) => a + x.passed, 0) / checks : 0,
  };
}
