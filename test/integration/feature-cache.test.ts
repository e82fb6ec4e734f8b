import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readModelInfo } from '../../src/main/engine/model-loader';
import { ModelSessions } from '../../src/main/engine/model-sessions';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../../src/main/engine/run-config';
import { runPipeline } from '../../src/main/engine/pipeline';
import type { PipelineRequest } from '../../src/main/engine/protocol';
import { buildVariant, type VariantManifest } from '../../src/main/optimize/build-variant';
import { compareImages } from '../../src/main/bench/quality';

/**
 * UNet feature caching, guidance truncation and static shapes through the real engine on
 * tiny-shapes: the feature-cache variant is built by the optimizer (its self-checks included),
 * then images are compared with the plain pipeline's.
 */
const tiny = resolve('resources/models/tiny-shapes');
const home = mkdtempSync(join(tmpdir(), 'ls-feature-cache-'));
const variantDir = join(home, 'models', 'tiny-shapes--feature-cache');
const open: ModelSessions[] = [];
let manifest: VariantManifest;
const previousHome = process.env.LATENT_STUDIO_HOME;

beforeAll(async () => {
  process.env.LATENT_STUDIO_HOME = home;
  manifest = (await buildVariant(tiny, 'feature-cache', variantDir)).manifest;
}, 120_000);

afterAll(async () => {
  for (const s of open) await s.releaseAll();
  if (previousHome === undefined) delete process.env.LATENT_STUDIO_HOME;
  else process.env.LATENT_STUDIO_HOME = previousHome;
  rmSync(home, { recursive: true, force: true });
});

async function sessionsFor(dir: string, config: Partial<RunConfig> = {}): Promise<ModelSessions> {
  const s = new ModelSessions(await readModelInfo(dir), { ...DEFAULT_RUN_CONFIG, ...config });
  open.push(s);
  return s;
}

const request = (dir: string, extra: Partial<PipelineRequest> = {}): PipelineRequest => ({
  modelDir: dir,
  prompt: 'a red circle on a blue background',
  negativePrompt: '',
  seed: 42,
  batch: 1,
  ep: 'cpu',
  previewEvery: 0,
  steps: 25,
  guidance: 7.5,
  ...extra,
});

const hooks = { onProgress: () => {}, isCancelled: () => false };
const png = async (s: ModelSessions, req: PipelineRequest) =>
  Buffer.from((await runPipeline(s, req, hooks)).images[0].png);

describe('the feature-cache variant', () => {
  it('is a UNet pair with its self-checks in the manifest', () => {
    expect(existsSync(join(variantDir, 'unet_shallow', 'model.onnx'))).toBe(true);
    expect(manifest.components.unet.transforms).toEqual(['feature-cache']);
    expect(manifest.components.unet.check?.cosine).toBeGreaterThan(0.9999);
    const shallow = manifest.components.unet_shallow;
    expect(shallow.check?.cosine).toBeGreaterThan(0.9999);
    const details = shallow.reports[0].details;
    expect(details.nodesAfter).toBeLessThan(details.nodesBefore / 2);
    // Text encoder and VAE are copied, not rewritten.
    expect(manifest.components.text_encoder.transforms).toEqual([]);
    expect(readdirSync(variantDir)).toContain('tokenizer');
  });
});

describe('feature caching in the pipeline', () => {
  it('at interval 1 draws the plain pipeline bit for bit, on the variant too', async () => {
    const plain = await png(await sessionsFor(tiny), request(tiny));
    const pair = await sessionsFor(variantDir);
    const one = await png(pair, request(variantDir, { featureCache: { interval: 1 } }));
    const none = await png(pair, request(variantDir));
    expect(one.equals(plain)).toBe(true);
    expect(none.equals(plain)).toBe(true);
  });

  it('at intervals 2, 3 and 5 runs fewer full UNets and drifts further the longer the interval', async () => {
    const plain = await png(await sessionsFor(tiny), request(tiny));
    const pair = await sessionsFor(variantDir);
    const psnr: number[] = [];
    for (const interval of [2, 3, 5]) {
      const cached = await png(pair, request(variantDir, { featureCache: { interval } }));
      expect(cached.equals(plain)).toBe(false);
      const q = compareImages(plain, cached);
      console.log(`interval ${interval}: SSIM ${q.ssim.toFixed(4)} PSNR ${q.psnr.toFixed(2)}`);
      expect(q.ssim, `interval ${interval}`).toBeGreaterThan(0.85);
      psnr.push(q.psnr);
    }
    // The wizard's PSNR bar holds at the shortest interval on this prompt.
    expect(psnr[0]).toBeGreaterThan(25);
    expect(psnr[0]).toBeGreaterThan(psnr[2]);
  });

  it('works with every scheduler and under a guidance interval', async () => {
    const pair = await sessionsFor(variantDir);
    for (const scheduler of ['pndm', 'euler-a', 'dpm++2m', 'ddim'] as const) {
      const r = await runPipeline(
        pair,
        request(variantDir, {
          scheduler,
          steps: 12,
          featureCache: { interval: 3, schedule: 'center' },
          guidanceInterval: { start: 0, end: 0.7 },
        }),
        hooks,
      );
      expect(r.images[0].png.length, scheduler).toBeGreaterThan(100);
    }
  });

  it('refuses a model folder without the shallow UNet, naming the recipe that builds it', async () => {
    await expect(
      runPipeline(await sessionsFor(tiny), request(tiny, { featureCache: { interval: 3 } }), hooks),
    ).rejects.toThrow(/no unet_shallow.*feature-cache-N/);
  });
});

describe('guidance truncation and static shapes', () => {
  it('a guidance interval over the whole trajectory is plain CFG; a shorter one changes little', async () => {
    const s = await sessionsFor(tiny);
    const plain = await png(s, request(tiny));
    const whole = await png(s, request(tiny, { guidanceInterval: { start: 0, end: 1 } }));
    expect(whole.equals(plain)).toBe(true);
    const truncated = await png(s, request(tiny, { guidanceInterval: { start: 0, end: 0.7 } }));
    expect(truncated.equals(plain)).toBe(false);
    const q = compareImages(plain, truncated);
    expect(q.ssim).toBeGreaterThan(0.85);
  });

  it('static shapes write a fixed-size copy of the UNet graph and draw the same picture', async () => {
    const plain = await png(await sessionsFor(tiny), request(tiny));
    const fixed = await sessionsFor(tiny, { staticShapes: true });
    const image = await png(fixed, request(tiny));
    const q = compareImages(plain, image);
    // Other fusions may round differently; the picture is the same.
    expect(q.psnr).toBeGreaterThan(40);
    const cache = join(home, 'cache', 'static-shapes');
    const folders = readdirSync(cache);
    expect(folders).toHaveLength(1);
    const what = JSON.parse(
      readFileSync(join(cache, folders[0], 'fixed.json'), 'utf8'),
    ) as string[];
    expect(what).toEqual(expect.arrayContaining(['sample[0] batch=2', 'sample[2] height=8']));
    // Another size is another session on another copy.
    await runPipeline(fixed, request(tiny, { width: 128, height: 128 }), hooks);
    expect(readdirSync(cache)).toHaveLength(2);
  });
});
