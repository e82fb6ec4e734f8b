import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import {
  adherenceSummary,
  analyseShapeImage,
  isShapesPrompt,
  PALETTE,
  promptTarget,
  shapeAdherence,
  SHAPES,
  type Shape,
} from './adherence';

/** A 64x64 picture like the training set: one shape of radius r at (cx, cy), flat colours. */
function draw(shape: Shape, fg: string, bg: string, cx = 30, cy = 34, r = 18): PNG {
  const png = new PNG({ width: 64, height: 64 });
  const inside = (x: number, y: number): boolean => {
    const u = x - cx;
    const v = y - cy;
    if (shape === 'circle') return u * u + v * v <= r * r;
    if (shape === 'square') return Math.abs(u) <= 0.85 * r && Math.abs(v) <= 0.85 * r;
    if (shape === 'triangle') {
      // Upward triangle inscribed in radius r: apex (0, -r), base at y = r / 2.
      const half = ((v + r) / (1.5 * r)) * r * Math.cos(Math.PI / 6);
      return v >= -r && v <= r / 2 && Math.abs(u) <= half;
    }
    // A star: radius alternating between r and 0.45 r every 36 degrees.
    const a = Math.atan2(u, -v);
    const k = Math.abs((((((a / (2 * Math.PI)) * 10) % 2) + 2) % 2) - 1);
    return Math.hypot(u, v) <= 0.45 * r + (1 - 0.45) * r * k ** 1.5 - 0.5;
  };
  for (let y = 0; y < 64; y++)
    for (let x = 0; x < 64; x++) {
      const c = inside(x + 0.5, y + 0.5) ? PALETTE[fg] : PALETTE[bg];
      const i = (y * 64 + x) * 4;
      [png.data[i], png.data[i + 1], png.data[i + 2], png.data[i + 3]] = [c[0], c[1], c[2], 255];
    }
  return png;
}

describe('promptTarget', () => {
  it('reads shape, shape colour and background colour from the caption forms', () => {
    expect(promptTarget('a red circle on a blue background')).toEqual({
      shape: 'circle',
      fg: 'red',
      bg: 'blue',
    });
    expect(promptTarget('orange star on white background')).toEqual({
      shape: 'star',
      fg: 'orange',
      bg: 'white',
    });
    expect(promptTarget('a green square')).toEqual({ shape: 'square', fg: 'green' });
    expect(promptTarget('an astronaut riding a horse')).toBeUndefined();
  });

  it('counts a prompt as the shapes vocabulary only when it names a shape', () => {
    expect(isShapesPrompt('a blue triangle on an orange background')).toBe(true);
    expect(isShapesPrompt('a star')).toBe(true);
    expect(isShapesPrompt('a portrait of a woman with blue eyes')).toBe(false);
    expect(isShapesPrompt('a starry night')).toBe(false);
  });
});

describe('analyseShapeImage', () => {
  it('finds the shape and both colours of drawn pictures', () => {
    const cases: [Shape, string, string][] = [
      ['circle', 'red', 'blue'],
      ['square', 'yellow', 'black'],
      ['triangle', 'white', 'purple'],
      ['star', 'orange', 'green'],
      ['star', 'blue', 'white'],
      ['triangle', 'black', 'yellow'],
    ];
    for (const [shape, fg, bg] of cases) {
      expect(analyseShapeImage(draw(shape, fg, bg))).toEqual({ shape, fg, bg });
    }
  });

  it('scores a wrong picture as wrong, check by check', () => {
    const r = shapeAdherence(
      'a red circle on a blue background',
      PNG.sync.write(draw('square', 'red', 'green')),
    );
    expect(r).toMatchObject({ checks: 3, passed: 1, all: false });
    const empty = new PNG({ width: 64, height: 64 });
    empty.data.fill(255);
    expect(analyseShapeImage(empty)).toEqual({ bg: 'white' });
    const s = adherenceSummary([
      shapeAdherence('a red circle', draw('circle', 'red', 'blue')),
      r,
      shapeAdherence('a horse', draw('circle', 'red', 'blue')),
    ]);
    expect(s).toEqual({ images: 2, allCorrect: 0.5, checksPassed: 3 / 5 });
    expect(SHAPES).toHaveLength(4);
  });
});
