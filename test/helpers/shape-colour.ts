import { PNG } from 'pngjs';

/**
 * Mean (R - B) over the shape: pixels far from the background colour, which is estimated as the
 * median of the image border (shapes are drawn inside the frame, the background fills the rest).
 */
export function shapeRedness(png: PNG): { redness: number; shapePixels: number } {
  const { width: w, height: h, data } = png;
  const border: number[][] = [[], [], []];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      if (x > 1 && y > 1 && x < w - 2 && y < h - 2) continue;
      for (let c = 0; c < 3; c++) border[c].push(data[(y * w + x) * 4 + c]);
    }
  const bg = border.map((v) => v.sort((a, b) => a - b)[v.length >> 1]);
  let sum = 0;
  let n = 0;
  for (let i = 0; i < w * h; i++) {
    const [r, g, b] = [data[i * 4], data[i * 4 + 1], data[i * 4 + 2]];
    const dist = Math.hypot(r - bg[0], g - bg[1], b - bg[2]);
    if (dist < 80) continue;
    sum += r - b;
    n++;
  }
  return { redness: n > 0 ? sum / n : 0, shapePixels: n };
}

/**
 * Prompt adherence for tiny-shapes: over shapes, backgrounds and seeds, is "a red X" redder in the
 * shape than "a blue X"? Pure chance gives 50% and a mean gap near 0.
 */
export async function colourAdherence(
  image: (prompt: string, seed: number) => Promise<PNG>,
  seeds: readonly number[] = [11, 22],
): Promise<{ correct: number; total: number; meanGap: number }> {
  const cases = [
    ['circle', 'white'],
    ['square', 'green'],
    ['triangle', 'yellow'],
    ['star', 'black'],
  ];
  let correct = 0;
  let total = 0;
  const gaps: number[] = [];
  for (const [shape, bg] of cases) {
    for (const seed of seeds) {
      const red = shapeRedness(await image(`a red ${shape} on a ${bg} background`, seed));
      const blue = shapeRedness(await image(`a blue ${shape} on a ${bg} background`, seed));
      total++;
      if (red.redness > blue.redness) correct++;
      gaps.push(red.redness - blue.redness);
    }
  }
  return { correct, total, meanGap: gaps.reduce((a, b) => a + b, 0) / gaps.length };
}
