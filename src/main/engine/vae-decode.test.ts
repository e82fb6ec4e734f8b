import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { PNG } from 'pngjs';
import { bundledModelsDir } from '../paths';
import { ComponentSession } from './component-session';
import { imagesToPng } from './image-encode';
import { readModelInfo } from './model-loader';
import { ModelSessions } from './model-sessions';
import { createNoise } from './noise';
import { runPipeline } from './pipeline';
import { DEFAULT_RUN_CONFIG } from './run-config';
import { decodeLatents, toSignedUnitRange } from './vae-decode';

/**
 * The VAE decode for both kinds of decoder: the forged TAESD fixture (raw output in [0, 1],
 * mapped to the [-1, 1] the PNG encoder reads) and tiny-shapes' SD-style KL decoder, whose
 * output must reach the PNG exactly as the decoder gave it.
 */
const taesd = resolve('test/fixtures/vae/taesd-random');
const tiny = join(bundledModelsDir(), 'tiny-shapes');
const open: { release(): Promise<void> }[] = [];
afterAll(async () => {
  for (const s of open) await s.release();
});

const load = async (dir: string): Promise<ComponentSession> => {
  const s = await ComponentSession.load(dir, 'vae_decoder', DEFAULT_RUN_CONFIG);
  open.push(s);
  return s;
};

/** Latents like a UNet's: seeded standard normal. */
const latents = (n: number, seed = 3): Float32Array => createNoise(seed, 0).normal(n);

const range = (a: Float32Array): [number, number] => {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of a) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return [lo, hi];
};

describe('the forged TAESD decoder fixture', () => {
  it('says what it is in its config: AutoencoderTiny, scaling 1.0, sd1 latents, output [0, 1]', () => {
    const config = JSON.parse(
      readFileSync(join(taesd, 'vae_decoder', 'config.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(config).toMatchObject({
      _class_name: 'AutoencoderTiny',
      scaling_factor: 1,
      latent_family: 'sd1',
      output_range: [0, 1],
      latent_channels: 4,
      num_decoder_blocks: [3, 3, 3, 1],
    });
  });

  it('loads with symbolic batch, height and width and decodes [B, 4, h, w] to [B, 3, 8h, 8w] in [0, 1]', async () => {
    const vae = await load(taesd);
    expect(vae.input('latent_sample')?.shape).toEqual([
      'batch_size',
      4,
      'latent_height',
      'latent_width',
    ]);
    const dims = [2, 4, 8, 12];
    const out = await vae.run({
      latent_sample: new ort.Tensor('float32', latents(2 * 4 * 8 * 12), dims),
    });
    expect(out.sample.dims).toEqual([2, 3, 64, 96]);
    const [lo, hi] = range(out.sample.data as Float32Array);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    // Not a constant picture: the random decoder still draws something.
    expect(hi - lo).toBeGreaterThan(0.1);
  });

  it('comes out of decodeLatents in [-1, 1]: exactly 2x - 1 of the raw output, tiled or not', async () => {
    const vae = await load(taesd);
    const z = latents(1 * 4 * 16 * 16, 5);
    const raw = (
      await vae.run({ latent_sample: new ort.Tensor('float32', z.slice(), [1, 4, 16, 16]) })
    ).sample.data as Float32Array;
    const mapped = await decodeLatents(vae, z, [1, 4, 16, 16], {
      slicing: false,
      tiling: false,
      outputRange: [0, 1],
    });
    expect(mapped.length).toBe(3 * 128 * 128);
    for (let i = 0; i < raw.length; i += 97) expect(mapped[i]).toBeCloseTo(raw[i] * 2 - 1, 6);
    const [lo, hi] = range(mapped);
    expect(lo).toBeGreaterThanOrEqual(-1);
    expect(hi).toBeLessThanOrEqual(1);
    // The tiled path blends raw tiles, then maps once: still in [-1, 1].
    const tiled = await decodeLatents(vae, z, [1, 4, 16, 16], {
      slicing: true,
      tiling: true,
      tileSize: 8,
      tileOverlap: 2,
      outputRange: [0, 1],
    });
    const [tlo, thi] = range(tiled);
    expect(tlo).toBeGreaterThanOrEqual(-1);
    expect(thi).toBeLessThanOrEqual(1);
  });
});

describe('toSignedUnitRange', () => {
  it('maps [0, 1] and any [lo, hi] to [-1, 1], and leaves [-1, 1] untouched (the same array)', () => {
    expect([...toSignedUnitRange(Float32Array.from([0, 0.5, 1]), [0, 1])]).toEqual([-1, 0, 1]);
    expect([...toSignedUnitRange(Float32Array.from([0, 127.5, 255]), [0, 255])]).toEqual([
      -1, 0, 1,
    ]);
    const same = Float32Array.from([0.1234567, -3, 7]);
    const copy = same.slice();
    expect(toSignedUnitRange(same, [-1, 1])).toBe(same);
    expect(toSignedUnitRange(same)).toBe(same);
    expect(Buffer.from(same.buffer).equals(Buffer.from(copy.buffer))).toBe(true);
  });
});

describe('an SD-style VAE (tiny-shapes) is decoded exactly as before', () => {
  it('keeps its scaling factor and the [-1, 1] range', async () => {
    const info = await readModelInfo(tiny);
    expect(info.vaeScalingFactor).toBe(0.887175);
    expect(info.vaeOutputRange).toEqual([-1, 1]);
  });

  it('decodeLatents gives the decoder session its own output, bit for bit', async () => {
    const vae = await load(tiny);
    const z = latents(2 * 4 * 8 * 8, 9);
    const raw = (
      await vae.run({ latent_sample: new ort.Tensor('float32', z.slice(), [2, 4, 8, 8]) })
    ).sample.data as Float32Array;
    const info = await readModelInfo(tiny);
    for (const options of [
      { slicing: false, tiling: false },
      { slicing: true, tiling: false },
    ]) {
      const decoded = await decodeLatents(vae, z, [2, 4, 8, 8], {
        ...options,
        outputRange: info.vaeOutputRange,
      });
      expect(Buffer.from(decoded.buffer).equals(Buffer.from(raw.buffer))).toBe(true);
    }
  });

  it("a tiny-shapes image is the PNG of the decoder's output, bit for bit", async () => {
    const sessions = new ModelSessions(await readModelInfo(tiny), DEFAULT_RUN_CONFIG);
    open.push({ release: () => sessions.releaseAll() });
    // Records what the VAE decoder itself returns, inside the real pipeline.
    const decoded: Float32Array[] = [];
    const acquire = sessions.acquire.bind(sessions);
    sessions.acquire = async (component, dims) => {
      const s = await acquire(component, dims);
      if (component === 'vae_decoder' && !decoded.length) {
        const run = s.run.bind(s);
        s.run = async (feeds) => {
          const out = await run(feeds);
          decoded.push(Float32Array.from(out.sample.data as Float32Array));
          return out;
        };
      }
      return s;
    };
    const result = await runPipeline(
      sessions,
      {
        modelDir: tiny,
        prompt: 'a red circle on a blue background',
        negativePrompt: '',
        seed: 42,
        batch: 1,
        ep: 'cpu',
        previewEvery: 0,
        steps: 6,
        guidance: 7.5,
      },
      { onProgress: () => {}, isCancelled: () => false },
    );
    expect(decoded).toHaveLength(1);
    const png = Buffer.from(result.images[0].png);
    // What the pipeline wrote before the output range existed: imagesToPng of the decoder's output.
    expect(png.equals(Buffer.from(imagesToPng(decoded[0], 1, 64, 64)[0]))).toBe(true);
    expect(PNG.sync.read(png).width).toBe(64);
  });
});
