import { afterAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { painter } from '../../../test/helpers/painter';
import { shapeAdherence } from './adherence';
import { QualityClient } from './quality-client';

/**
 * Prompt adherence is computed in the image-quality worker (a forked process here, as under the CLI
 * and the web host), on real tiny-shapes images, and agrees with the same metric run in-process.
 */
const paint = painter(resolve('resources/models/tiny-shapes'));
const quality = new QualityClient();
afterAll(async () => {
  quality.close();
  await paint.release();
});

const PROMPTS = [
  'a red circle on a blue background',
  'a yellow square on a black background',
  'a white triangle on a green background',
  'a blue star on a yellow background',
];

describe('adherence in the quality worker', () => {
  it('checks each real image against its prompt, as the in-process metric does', async () => {
    const answers = [];
    for (const [i, prompt] of PROMPTS.entries()) {
      const png = await paint.png(prompt, 100 + i);
      const judged = await quality.judge(png, undefined, prompt);
      expect(judged.inspection.problem).toBeNull();
      expect(judged.metrics).toBeNull(); // no reference: the baseline's own images
      const local = shapeAdherence(prompt, png);
      expect(judged.adherence).toEqual({
        checks: local?.checks,
        passed: local?.passed,
        all: local?.all,
      });
      expect(judged.adherence?.checks).toBe(3); // shape, its colour, the background
      answers.push(judged.adherence);
    }
    // The bundled model draws most of these right (0.94 of the 16-prompt grid, docs/benchmarks.md).
    expect(answers.filter((a) => a?.all).length).toBeGreaterThanOrEqual(3);
  });

  it('fails the checks a picture does not draw, and skips prompts the vocabulary does not know', async () => {
    const png = await paint.png('a red circle on a blue background', 100);
    // The same picture against a prompt asking for other colours and another shape.
    const wrong = await quality.judge(png, undefined, 'a green star on a white background');
    expect(wrong.adherence).toMatchObject({ checks: 3, all: false });
    expect(wrong.adherence?.passed).toBeLessThanOrEqual(1);
    const unknown = await quality.judge(png, undefined, 'an astronaut riding a horse');
    expect(unknown.adherence).toBeNull();
    // A colour word without a shape (the classic set's "blue eyes") is not the shapes vocabulary.
    const colourOnly = await quality.judge(png, undefined, 'a portrait of a woman with blue eyes');
    expect(colourOnly.adherence).toBeNull();
    expect((await quality.judge(png)).adherence).toBeNull();
  });

  it('answers adherence beside SSIM and PSNR when a baseline image is given', async () => {
    const prompt = 'a yellow square on a black background';
    const reference = await paint.png(prompt, 101);
    const other = await paint.png(prompt, 7);
    const judged = await quality.judge(other, reference, prompt);
    expect(judged.metrics?.ssim).toBeLessThan(1);
    expect(judged.heatmap).not.toBeNull();
    expect(judged.adherence).toEqual({
      checks: 3,
      passed: shapeAdherence(prompt, other)?.passed,
      all: shapeAdherence(prompt, other)?.all,
    });
  });
});
