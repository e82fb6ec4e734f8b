import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { dispatch } from '../../src/main/services/dispatch';
import { compareImages } from '../../src/main/bench/quality';
import { useTempStudio } from '../helpers/temp-studio';

/** Every bad generate input is a clear error naming the field (or a documented clamp), never a crash. */
const model = resolve('test/fixtures/models/sd15-optimum-float');
const ctx = useTempStudio();

const generate = (input: Record<string, unknown>) =>
  dispatch(ctx.studio.handlers, 'generate', { model, steps: 2, seed: 3, ...input });

describe('generate input', () => {
  it.each([
    [{ steps: 0 }, /^steps: must be at least 1/],
    [{ steps: 1001 }, /^steps: must be at most 1000/],
    [{ steps: 2.5 }, /^steps: must be a whole number/],
    [{ guidance: -1 }, /^guidance: must be 0 or more/],
    [{ width: 100 }, /^width: must be a multiple of 8/],
    [{ height: 0 }, /^height: must be at least 8/],
    [{ scheduler: 'warp-drive' }, /^scheduler: unknown scheduler; use one of euler, euler-a/],
    [{ ep: 'tpu' }, /^ep: unknown execution provider; use one of cpu, webgpu/],
    [{ batch: 0 }, /^batch: must be at least 1/],
    [{ seed: -1 }, /^seed: must be between 0 and 4294967295/],
    [{ seed: 2 ** 32 }, /^seed: must be between 0 and 4294967295/],
    [{ prompt: 42 }, /^prompt: /],
    [{ colour: 'red' }, /unknown field\(s\) "colour"/],
  ])('%j is refused', async (input, message) => {
    await expect(generate(input)).rejects.toThrow(message);
  });

  it('refuses a size too large for the model, naming the limit', async () => {
    await expect(generate({ width: 2048, height: 2048 })).rejects.toThrow(
      /too large for this model \(native 64x64\); use at most 128/,
    );
  });

  it("keeps a failed request's warnings out of the next request", async () => {
    // No tiny VAE decoder in this home: the recipe warns and runs the source, then the size fails.
    await expect(generate({ recipe: 'tiny-vae', width: 2048, height: 2048 })).rejects.toThrow(
      /too large for this model/,
    );
    const next = await generate({ recipe: 'no-spin' });
    expect(next.warnings.join('\n')).not.toMatch(/tiny-vae/);
    expect(next.warnings.join('\n')).toMatch(/recipe no-spin applied/);
  });

  it('refuses an unknown model, listing the known ones', async () => {
    await expect(generate({ model: 'no-such-model' })).rejects.toThrow(
      /unknown model "no-such-model"/,
    );
  });

  it('allows an empty prompt (unconditional) and records the run', async () => {
    const r = await generate({ prompt: '' });
    expect(r.images).toHaveLength(1);
    const [run] = await dispatch(ctx.studio.handlers, 'getHistory', { limit: 1 });
    expect(run).toMatchObject({ id: r.runId, status: 'done', summary: '(unconditional)' });
  });

  it('truncates a prompt over 77 tokens with a warning', async () => {
    const r = await generate({ prompt: 'red circle '.repeat(60) });
    expect(r.warnings.join(' ')).toMatch(/longer than 77 tokens and was truncated/);
  });

  it('gives image b of a batch the seed + b, so each image can be made again alone', async () => {
    const both = await generate({
      prompt: 'a green star',
      seed: 40,
      batch: 2,
      guidance: 3,
      scheduler: 'euler-a',
    });
    const second = await generate({
      prompt: 'a green star',
      seed: 41,
      guidance: 3,
      scheduler: 'euler-a',
    });
    const png = (u: string) => Buffer.from(u.split(',')[1], 'base64');
    // Batched and single UNet calls may round differently in the last bit; the images must agree.
    const q = compareImages(png(both.images[1].dataUrl), png(second.images[0].dataUrl));
    expect(q.maxAbsDiff).toBeLessThanOrEqual(2);
  });

  it('gives byte-identical images for the same seed', async () => {
    const a = await generate({ prompt: 'a blue square', seed: 99, guidance: 4 });
    const b = await generate({ prompt: 'a blue square', seed: 99, guidance: 4 });
    const c = await generate({ prompt: 'a blue square', seed: 100, guidance: 4 });
    expect(a.images[0].dataUrl).toBe(b.images[0].dataUrl);
    expect(c.images[0].dataUrl).not.toBe(a.images[0].dataUrl);
  });
});
