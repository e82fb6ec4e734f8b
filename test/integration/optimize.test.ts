import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { optimizeModel } from '../../src/main/models/optimize';
import { compareImages } from '../../src/main/bench/quality';
import { dispatch } from '../../src/main/services/dispatch';
import { useTempStudio } from '../helpers/temp-studio';

const source = resolve('test/fixtures/models/sd15-diffusers-script');
const ctx = useTempStudio();

describe('optimize', () => {
  it('writes an optimized copy with a manifest that generates the same image, leaving the source alone', async () => {
    const before = readdirSync(join(source, 'unet')).sort();
    const out = join(ctx.home, 'models', 'fixture-graph-all');
    const r = await optimizeModel(source, 'graph-all', out);
    expect(r.components).toEqual(expect.arrayContaining(['text_encoder', 'unet', 'vae_decoder']));
    expect(readdirSync(join(source, 'unet')).sort()).toEqual(before);
    const manifest = JSON.parse(readFileSync(join(out, 'latent-studio.json'), 'utf8')) as {
      recipe: string;
      sourceFingerprint: string;
    };
    expect(manifest.recipe).toBe('graph-all');
    expect(manifest.sourceFingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(join(out, 'tokenizer', 'vocab.json'))).toBe(true);

    const models = await dispatch(ctx.studio.handlers, 'listModels', {});
    expect(models.find((m) => m.name === 'fixture-graph-all')?.source).toBe('optimized');
    const a = await dispatch(ctx.studio.handlers, 'generate', {
      model: source,
      prompt: 'a red circle',
      seed: 5,
      steps: 3,
    });
    const b = await dispatch(ctx.studio.handlers, 'generate', {
      model: 'fixture-graph-all',
      prompt: 'a red circle',
      seed: 5,
      steps: 3,
    });
    const png = (u: string) => Buffer.from(u.split(',')[1], 'base64');
    expect(compareImages(png(a.images[0].dataUrl), png(b.images[0].dataUrl)).ssim).toBeGreaterThan(
      0.99,
    );
  });

  it('refuses what is not built, and never writes into a non-empty folder', async () => {
    await expect(optimizeModel(source, 'int8', join(ctx.home, 'x'))).rejects.toThrow(
      /int8 quantization is not built/,
    );
    await expect(optimizeModel(source, 'graph-all', source)).rejects.toThrow(/must differ/);
    await expect(optimizeModel(source, 'graph-all', resolve('test'))).rejects.toThrow(/not empty/);
  });
});
