import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import {
  buildVariant,
  partialDir,
  type VariantManifest,
} from '../../src/main/optimize/build-variant';
import { ensureVariant, variantStorePath } from '../../src/main/optimize/variant-store';
import { runOptimizeJob } from '../../src/main/optimize/optimize-client';
import { compareImages } from '../../src/main/bench/quality';
import { bundledModelsDir } from '../../src/main/paths';
import { dispatch } from '../../src/main/services/dispatch';
import { useTempStudio } from '../helpers/temp-studio';
import { colourAdherence } from '../helpers/shape-colour';
import { painter } from '../helpers/painter';

const fixture = resolve('test/fixtures/models/sd15-diffusers-script');
const tiny = join(bundledModelsDir(), 'tiny-shapes');
const ctx = useTempStudio();

const pngBytes = (p: PNG): Buffer => PNG.sync.write(p);
const manifestOf = (dir: string): VariantManifest =>
  JSON.parse(readFileSync(join(dir, 'latent-studio.json'), 'utf8')) as VariantManifest;

describe('optimize: tiny-shapes variants still draw what the prompt asks', () => {
  const reference = painter(tiny);
  afterAll(() => reference.release());

  // Quantized variants must also be smaller (tiny-shapes already stores fp16 weights, so fp16 and
  // attention keep its size).
  const shrinks = new Set(['int8', 'int4', 'int8-matmul', 'int8-dynamic', 'mixed']);
  for (const recipe of [
    'int8',
    'int4',
    'int8-matmul',
    'int8-dynamic',
    'attention',
    'mixed',
    'fp16',
  ]) {
    it(`${recipe}: checked against the source, smaller, same picture, right colours`, async () => {
      const out = join(ctx.home, 'models', `tiny-shapes--${recipe}`);
      const { manifest } = await buildVariant(tiny, recipe, out);
      const unet = manifest.components.unet;
      expect(unet.check?.nanCount).toBe(0);
      expect(unet.check?.cosine).toBeGreaterThanOrEqual(unet.check?.minCosine ?? 1);
      expect(unet.reports.reduce((a, r) => a + r.changed, 0)).toBeGreaterThan(0);
      if (shrinks.has(recipe)) expect(unet.bytesAfter).toBeLessThan(unet.bytesBefore);
      // The VAE decoder stays float32 in every recipe (quantized/fp16 VAEs are where pictures break).
      expect(manifest.components.vae_decoder.transforms.filter((t) => t !== 'attention')).toEqual(
        [],
      );

      const variant = painter(out);
      try {
        const prompt = 'a red circle on a blue background';
        const a = await reference.image(prompt, 7);
        const b = await variant.image(prompt, 7);
        const q = compareImages(pngBytes(a), pngBytes(b));
        console.log(
          `[optimize] tiny-shapes ${recipe}: unet ${(unet.bytesAfter / 1e6).toFixed(2)} MB (source ${(unet.bytesBefore / 1e6).toFixed(2)} MB), cosine ${unet.check?.cosine.toFixed(5)}, SSIM ${q.ssim.toFixed(3)}, PSNR ${q.psnr.toFixed(1)} dB vs fp32 at seed 7`,
        );
        expect(q.ssim).toBeGreaterThan(0.85);
        const adherence = await colourAdherence((p, s) => variant.image(p, s), [11]);
        expect(adherence.correct / adherence.total).toBeGreaterThanOrEqual(0.75);
        expect(adherence.meanGap).toBeGreaterThan(60);
      } finally {
        await variant.release();
      }
    });
  }
});

describe('optimize: graph-all, the API, refusals', () => {
  it('graph-all writes a copy with a manifest that generates the same image, leaving the source alone', async () => {
    const before = readdirSync(join(fixture, 'unet')).sort();
    const r = await dispatch(ctx.studio.handlers, 'optimizeModel', {
      model: fixture,
      recipe: 'graph-all',
      out: join(ctx.home, 'models', 'fixture-graph-all'),
    });
    expect(r.components).toEqual(expect.arrayContaining(['text_encoder', 'unet', 'vae_decoder']));
    expect(r.summary.find((c) => c.component === 'unet')?.cosine).toBeGreaterThan(0.9999);
    expect(readdirSync(join(fixture, 'unet')).sort()).toEqual(before);
    expect(manifestOf(r.outDir).recipe).toBe('graph-all');
    expect(manifestOf(r.outDir).sourceFingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(join(r.outDir, 'tokenizer', 'vocab.json'))).toBe(true);

    const models = await dispatch(ctx.studio.handlers, 'listModels', {});
    expect(models.find((m) => m.name === 'fixture-graph-all')?.source).toBe('optimized');
    const gen = (model: string) =>
      dispatch(ctx.studio.handlers, 'generate', {
        model,
        prompt: 'a red circle',
        seed: 5,
        steps: 3,
      });
    const png = (u: string) => Buffer.from(u.split(',')[1], 'base64');
    const [a, b] = [await gen(fixture), await gen('fixture-graph-all')];
    expect(compareImages(png(a.images[0].dataUrl), png(b.images[0].dataUrl)).ssim).toBeGreaterThan(
      0.99,
    );
  });

  it('every quantization recipe runs on every fixture family', async () => {
    const families = readdirSync('test/fixtures/models').filter((f) =>
      existsSync(join('test/fixtures/models', f, 'unet', 'model.onnx')),
    );
    expect(families.length).toBeGreaterThanOrEqual(7);
    for (const family of families) {
      for (const recipe of ['int8', 'int4', 'int8-dynamic']) {
        const out = join(ctx.home, 'fam', `${family}--${recipe}`);
        const { manifest } = await buildVariant(join('test/fixtures/models', family), recipe, out);
        for (const [component, c] of Object.entries(manifest.components)) {
          if (c.transforms.length === 0) continue;
          expect(c.check?.nanCount, `${family} ${recipe} ${component}`).toBe(0);
          expect(c.check?.cosine, `${family} ${recipe} ${component}`).toBeGreaterThanOrEqual(
            c.check?.minCosine ?? 1,
          );
        }
      }
    }
  });

  it('refuses an unknown recipe, the source as output, a non-empty folder without --force, and with it one the studio did not write', async () => {
    await expect(buildVariant(fixture, 'int3', join(ctx.home, 'x'))).rejects.toThrow(
      /unknown optimize recipe "int3"/,
    );
    await expect(buildVariant(fixture, 'int8', fixture)).rejects.toThrow(/must differ/);
    const taken = join(ctx.home, 'taken');
    mkdirSync(taken, { recursive: true });
    writeFileSync(join(taken, 'keep.txt'), 'mine');
    await expect(buildVariant(fixture, 'int8', taken)).rejects.toThrow(/not empty.*--force/);
    expect(readFileSync(join(taken, 'keep.txt'), 'utf8')).toBe('mine');
    await expect(buildVariant(fixture, 'int8', taken, { force: true })).rejects.toThrow(
      /was not written by the studio/,
    );
    expect(readFileSync(join(taken, 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('refuses to start without the disk space the variant may need, naming the size', async () => {
    const out = join(ctx.home, 'no-space');
    await expect(buildVariant(fixture, 'int8', out, { freeBytes: () => 1000 })).rejects.toThrow(
      /not enough disk space .* needs up to 0\.\d+ GB, 0\.00 GB is free/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a file that is not ONNX and truncated external data, leaving no partial output', async () => {
    const broken = join(ctx.home, 'broken');
    cpSync(fixture, broken, { recursive: true });
    const data = join(broken, 'unet', 'weights.pb');
    truncateSync(data, statSync(data).size - 100);
    const out1 = join(ctx.home, 'broken-out');
    await expect(buildVariant(broken, 'int8', out1)).rejects.toThrow(/truncated/);
    expect(existsSync(out1) && readdirSync(out1).length > 0).toBe(false);
    expect(existsSync(partialDir(out1))).toBe(false);

    writeFileSync(join(broken, 'unet', 'model.onnx'), 'this is not a protobuf at all, just text');
    await expect(buildVariant(broken, 'int8', join(ctx.home, 'broken-out2'))).rejects.toThrow(
      /not an ONNX model/,
    );
  });

  it('a worker killed mid-build (cancel) leaves nothing behind', async () => {
    const out = join(ctx.home, 'models', 'cancelled');
    const controller = new AbortController();
    const job = runOptimizeJob(
      { sourceDir: tiny, recipe: 'int8', outDir: out, force: false },
      (p) => {
        if (p.phase === 'write') controller.abort();
      },
      controller.signal,
    );
    await expect(job).rejects.toThrow(/cancelled/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(partialDir(out))).toBe(false);
  });

  it('two callers wanting one variant share one build; a second build into the same folder is refused', async () => {
    const source = join(ctx.home, 'shared-src');
    cpSync(fixture, source, { recursive: true });
    let builds = 0;
    const [a, b] = await Promise.all([
      ensureVariant(ctx.home, source, 'int4', (p) => {
        if (p.phase === 'done') builds++;
      }),
      ensureVariant(ctx.home, source, 'int4', (p) => {
        if (p.phase === 'done') builds++;
      }),
    ]);
    expect(a).toBe(b);
    expect(builds).toBe(1);

    const out = join(ctx.home, 'one-writer');
    const first = runOptimizeJob({ sourceDir: fixture, recipe: 'int8', outDir: out, force: true });
    await expect(
      runOptimizeJob({ sourceDir: fixture, recipe: 'int8', outDir: out, force: true }),
    ).rejects.toThrow(/being written by another optimization/);
    await first;
    expect(manifestOf(out).recipe).toBe('int8');
  });

  it('the variant store builds once, reuses, and rebuilds when the source changes', async () => {
    const source = join(ctx.home, 'src-model');
    cpSync(fixture, source, { recursive: true });
    const reasons: string[] = [];
    const dir = await ensureVariant(ctx.home, source, 'int8', (p) => reasons.push(p.reason));
    expect(dir).toBe(variantStorePath(ctx.home, source, 'int8'));
    expect(dir.endsWith('src-model--int8')).toBe(true);
    expect(reasons[0]).toBe('not built yet');
    const built = manifestOf(dir).createdAt;

    reasons.length = 0;
    await ensureVariant(ctx.home, source, 'int8', (p) => reasons.push(p.reason));
    expect(reasons).toEqual([]);
    expect(manifestOf(dir).createdAt).toBe(built);

    writeFileSync(join(source, 'unet', 'config.json'), '{"sample_size": 8, "changed": true}');
    await ensureVariant(ctx.home, source, 'int8', (p) => reasons.push(p.reason));
    expect(reasons[0]).toBe('the source model changed since');
    expect(manifestOf(dir).createdAt).not.toBe(built);
  });
});

beforeAll(() => {
  mkdirSync(join(ctx.home, 'models'), { recursive: true });
});
