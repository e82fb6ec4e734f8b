import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { readModelInfo } from '../../src/main/engine/model-loader';
import { ModelSessions } from '../../src/main/engine/model-sessions';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../../src/main/engine/run-config';
import { runPipeline } from '../../src/main/engine/pipeline';
import type { PipelineRequest } from '../../src/main/engine/protocol';
import { findRecipe } from '../../src/main/bench/recipes';
import { canBuildVariant, composeVariant, prepareVariant } from '../../src/main/bench/variants';
import { variantStorePath } from '../../src/main/optimize/variant-store';
import { tempHome } from '../helpers/temp-home';

/**
 * The tiny-vae recipe end to end on tiny-shapes (family sd1, 4 latent channels, 8x8 latents) and
 * the forged TAESD fixture: the variant is built from `<home>/vae/`, generates through the real
 * engine (and the CLI's `generate --recipe tiny-vae`) to a valid PNG; a decoder of another
 * latent family is not used, and without one the recipe is refused saying what to put where.
 */
const tiny = resolve('resources/models/tiny-shapes');
const fixture = resolve('test/fixtures/vae/taesd-random');
const withDecoder = tempHome('ls-tiny-vae-int-');
const wrongFamily = tempHome('ls-tiny-vae-sdxl-');
const none = tempHome('ls-tiny-vae-none-');
const open: ModelSessions[] = [];
let variantDir: string;
const previousHome = process.env.LATENT_STUDIO_HOME;

function installDecoder(home: string, name: string, family: string): void {
  const dir = join(home, 'vae', name);
  cpSync(fixture, dir, { recursive: true });
  const file = join(dir, 'vae_decoder', 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify({ ...config, latent_family: family }, null, 2));
}

beforeAll(async () => {
  process.env.LATENT_STUDIO_HOME = withDecoder.dir;
  installDecoder(withDecoder.dir, 'taesd', 'sd1');
  installDecoder(wrongFamily.dir, 'taesdxl', 'sdxl');
  variantDir = await prepareVariant(tiny, 'tiny-vae', undefined, withDecoder.dir);
});

afterAll(async () => {
  for (const s of open) await s.releaseAll();
  if (previousHome === undefined) delete process.env.LATENT_STUDIO_HOME;
  else process.env.LATENT_STUDIO_HOME = previousHome;
  for (const h of [withDecoder, wrongFamily, none]) h.cleanup();
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
  steps: 8,
  guidance: 7.5,
  ...extra,
});
const hooks = { onProgress: () => {}, isCancelled: () => false };

describe('the tiny-vae recipe', () => {
  it('is in the catalogue: a memory strategy on the tiny-vae variant', () => {
    const r = findRecipe('tiny-vae');
    expect(r).toMatchObject({ strategy: 'memory', variant: 'tiny-vae', runConfig: {} });
    expect(r.description).toMatch(/changes the pictures/);
    expect(r.description).toMatch(/measured/);
  });

  it('can be built only where a TAESD decoder of the model latent family is in <home>/vae/', () => {
    expect(canBuildVariant('tiny-vae', tiny, 'sd1', withDecoder.dir)).toBe(true);
    expect(canBuildVariant('tiny-vae', tiny, 'sd1', none.dir)).toBe(false);
    // A decoder for SDXL latents is never used for an SD 1.x model.
    expect(canBuildVariant('tiny-vae', tiny, 'sd1', wrongFamily.dir)).toBe(false);
    expect(canBuildVariant('tiny-vae')).toBe(false);
    // It composes with the other variants: the decoder is swapped last.
    expect(composeVariant(['tiny-vae', 'int8', 'lcm-lora'])).toBe('lcm-lora+int8+tiny-vae');
    expect(canBuildVariant('attention+tiny-vae', tiny, 'sd1', withDecoder.dir)).toBe(true);
    expect(canBuildVariant('attention+tiny-vae', tiny, 'sd1', none.dir)).toBe(false);
  });

  it('is refused with what to put where when no decoder matches', async () => {
    await expect(prepareVariant(tiny, 'tiny-vae', undefined, none.dir)).rejects.toThrow(
      `no tiny VAE decoder for the sd1 latent family in ${join(none.dir, 'vae')}: put a TAESD decoder there as <name>/vae_decoder/model.onnx`,
    );
    await expect(prepareVariant(tiny, 'tiny-vae', undefined, wrongFamily.dir)).rejects.toThrow(
      /found only taesdxl \(sdxl\)/,
    );
    // Refused before any optimizer step it would follow was built.
    await expect(prepareVariant(tiny, 'attention+tiny-vae', undefined, none.dir)).rejects.toThrow(
      /no tiny VAE decoder/,
    );
    expect(existsSync(join(none.dir, 'models'))).toBe(false);
    expect(existsSync(join(wrongFamily.dir, 'models'))).toBe(false);
  });

  it('builds a variant whose decoder config the engine reads: scaling 1.0, output [0, 1]', async () => {
    expect(variantDir).toBe(variantStorePath(withDecoder.dir, tiny, 'tiny-vae'));
    const info = await readModelInfo(variantDir);
    expect(info.family).toBe('sd1');
    expect(info.vaeScalingFactor).toBe(1);
    expect(info.vaeOutputRange).toEqual([0, 1]);
    // The source keeps its own.
    expect((await readModelInfo(tiny)).vaeScalingFactor).toBe(0.887175);
  });

  it('generates through the real engine: a valid 64x64 PNG, not the SD decoder picture', async () => {
    const result = await runPipeline(await sessionsFor(variantDir), request(variantDir), hooks);
    const png = Buffer.from(result.images[0].png);
    const image = PNG.sync.read(png);
    expect([image.width, image.height]).toEqual([64, 64]);
    expect(result.timings.vae).toBeGreaterThan(0);
    // Mapped from [0, 1]: a random TAESD around 0.5 lands mid-grey, not clamped to black or white.
    let sum = 0;
    let clipped = 0;
    for (let i = 0; i < image.data.length; i += 4)
      for (let c = 0; c < 3; c++) {
        sum += image.data[i + c];
        if (image.data[i + c] === 0 || image.data[i + c] === 255) clipped++;
      }
    const mean = sum / ((image.data.length / 4) * 3);
    expect(mean).toBeGreaterThan(40);
    expect(mean).toBeLessThan(215);
    expect(clipped / ((image.data.length / 4) * 3)).toBeLessThan(0.05);
    const plain = await runPipeline(await sessionsFor(tiny), request(tiny), hooks);
    expect(png.equals(Buffer.from(plain.images[0].png))).toBe(false);
    // Tiled and sliced decode on the tiny decoder, a batch of two: the same sizes.
    const tiled = await runPipeline(
      await sessionsFor(variantDir, { vaeTiling: true, vaeSlicing: true }),
      request(variantDir, { batch: 2 }),
      hooks,
    );
    expect(tiled.images.map((i) => [i.width, i.height])).toEqual([
      [64, 64],
      [64, 64],
    ]);
  });
});

describe('tiny-vae in a stack', () => {
  it('swaps the decoder of the optimized variant, last', async () => {
    const messages: string[] = [];
    const dir = await prepareVariant(
      tiny,
      'tiny-vae+attention',
      (p) => messages.push(p.message),
      withDecoder.dir,
    );
    const attention = variantStorePath(withDecoder.dir, tiny, 'attention');
    expect(dir).toBe(variantStorePath(withDecoder.dir, attention, 'tiny-vae'));
    const manifest = JSON.parse(readFileSync(join(dir, 'latent-studio.json'), 'utf8')) as {
      source: string;
      recipe: string;
    };
    expect(manifest).toMatchObject({ source: attention, recipe: 'tiny-vae' });
    expect(messages.at(-1)).toMatch(/building the attention\+tiny-vae variant/);
    const info = await readModelInfo(dir);
    expect(info.vaeOutputRange).toEqual([0, 1]);
    const result = await runPipeline(await sessionsFor(dir), request(dir), hooks);
    expect(PNG.sync.read(Buffer.from(result.images[0].png)).width).toBe(64);
  });
});

describe('generate --recipe tiny-vae (the CLI)', () => {
  const cli = (home: string, out: string) => {
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/main/cli.ts',
        'generate',
        '--recipe',
        'tiny-vae',
        '--prompt',
        'a green star on a white background',
        '--steps',
        '4',
        '--seed',
        '3',
        '--out',
        out,
        '--json',
      ],
      { env: { ...process.env, LATENT_STUDIO_HOME: home }, encoding: 'utf8', timeout: 120_000 },
    );
    const lines = r.stdout.trim().split('\n');
    return {
      code: r.status,
      stderr: r.stderr,
      json: () => JSON.parse(lines[lines.length - 1]) as { image: string; warnings: string[] },
    };
  };

  it('runs on the tiny-vae variant where a decoder is present, and says why not where none is', () => {
    const out = join(withDecoder.dir, 'tiny-vae.png');
    const ok = cli(withDecoder.dir, out);
    expect(ok.code, ok.stderr).toBe(0);
    expect(PNG.sync.read(readFileSync(out)).width).toBe(64);
    expect(ok.json().warnings.join('\n')).not.toMatch(/could not be built/);

    const missing = cli(none.dir, join(none.dir, 'source.png'));
    expect(missing.code, missing.stderr).toBe(0);
    expect(missing.json().warnings.join('\n')).toMatch(
      /recipe tiny-vae needs the tiny-vae variant, which could not be built \(no tiny VAE decoder for the sd1 latent family in .*; ran the source model/,
    );
  });
});
