import { afterAll, describe, expect, it } from 'vitest';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { bundledModelsDir } from '../paths';
import { tempHome } from '../../../test/helpers/temp-home';
import { variantStorePath } from './variant-store';
import {
  ensureTinyVaeVariant,
  findTinyVae,
  listTinyVaes,
  modelLatentFamily,
  tinyVaeRefusal,
  type TinyVaeManifest,
} from './tiny-vae';

/** The tiny-vae variant's files and choices, on tiny-shapes and the forged TAESD fixture. */
const fixture = resolve('test/fixtures/vae/taesd-random');
const tiny = join(bundledModelsDir(), 'tiny-shapes');
const homes: { cleanup: () => void }[] = [];
afterAll(() => homes.forEach((h) => h.cleanup()));
const newHome = (): string => {
  const h = tempHome('ls-tiny-vae-');
  homes.push(h);
  return h.dir;
};

/** Puts the fixture decoder into `<home>/vae/<name>/`, its config's fields changed as given. */
function installDecoder(home: string, name: string, config: Record<string, unknown> = {}): string {
  const dir = join(home, 'vae', name);
  cpSync(fixture, dir, { recursive: true });
  const file = join(dir, 'vae_decoder', 'config.json');
  const current = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify({ ...current, ...config }, null, 2));
  return dir;
}

const manifestOf = (dir: string): TinyVaeManifest =>
  JSON.parse(readFileSync(join(dir, 'latent-studio.json'), 'utf8')) as TinyVaeManifest;

describe('the latent family of a model', () => {
  it('is SD 1.x for SD 1.x/2.x, Turbo and LCM models, SDXL for SDXL', () => {
    expect(modelLatentFamily(tiny)).toBe('sd1');
    const models = resolve('test/fixtures/models');
    expect(modelLatentFamily(join(models, 'sd21-vpred'))).toBe('sd1');
    expect(modelLatentFamily(join(models, 'sd-turbo'))).toBe('sd1');
    expect(modelLatentFamily(join(models, 'lcm'))).toBe('sd1');
    expect(modelLatentFamily(join(models, 'sdxl'))).toBe('sdxl');
    expect(modelLatentFamily(tiny, 'sdxl')).toBe('sdxl');
  });
});

describe('tiny decoders in <home>/vae/', () => {
  it('are found with their family, scaling and output range; broken folders are named', () => {
    const home = newHome();
    expect(listTinyVaes(home)).toEqual({ found: [], problems: [] });
    installDecoder(home, 'taesd');
    installDecoder(home, 'kl-decoder', { _class_name: 'AutoencoderKL' });
    mkdirSync(join(home, 'vae', 'empty'), { recursive: true });
    const { found, problems } = listTinyVaes(home);
    expect(found).toEqual([
      {
        name: 'taesd',
        dir: join(home, 'vae', 'taesd'),
        latentFamily: 'sd1',
        latentChannels: 4,
        scalingFactor: 1,
        outputRange: [0, 1],
      },
    ]);
    expect(problems).toEqual([
      'empty: no vae_decoder/model.onnx',
      expect.stringMatching(/^kl-decoder: .*_class_name.*AutoencoderTiny/),
    ]);
  });

  it('of another latent family are not used; the refusal says what to put where', () => {
    const home = newHome();
    expect(tinyVaeRefusal(home, tiny)).toBe(
      `no tiny VAE decoder for the sd1 latent family in ${join(home, 'vae')}: put a TAESD decoder there as <name>/vae_decoder/model.onnx with a config.json saying "_class_name": "AutoencoderTiny", "latent_family": "sd1" (and "output_range": [0, 1] for the raw TAESD decoder)`,
    );
    installDecoder(home, 'taesdxl', { latent_family: 'sdxl' });
    expect(findTinyVae(home, 'sd1')).toBeUndefined();
    expect(findTinyVae(home, 'sdxl')?.name).toBe('taesdxl');
    expect(tinyVaeRefusal(home, tiny)).toMatch(/found only taesdxl \(sdxl\)$/);
    expect(tinyVaeRefusal(home, resolve('test/fixtures/models/sdxl'))).toBeUndefined();
    installDecoder(home, 'taesd');
    expect(tinyVaeRefusal(home, tiny)).toBeUndefined();
  });
});

describe('the tiny-vae variant', () => {
  it('is the source with its vae_decoder replaced: links for the rest, a manifest, no rebuild when current', async () => {
    const home = newHome();
    installDecoder(home, 'taesd');
    const reasons: string[] = [];
    const dir = await ensureTinyVaeVariant(home, tiny, (p) => reasons.push(p.reason));
    expect(dir).toBe(variantStorePath(home, tiny, 'tiny-vae'));
    expect(reasons[0]).toBe('not built yet');
    const decoderFile = 'vae_decoder/model.onnx';
    expect(
      readFileSync(join(dir, decoderFile)).equals(readFileSync(join(fixture, decoderFile))),
    ).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'vae_decoder', 'config.json'), 'utf8'))).toMatchObject(
      { _class_name: 'AutoencoderTiny', output_range: [0, 1] },
    );
    // The source's other files come over as they are (hard links where the file system allows:
    // the same inode), and its encoder stays the SD one.
    const m = manifestOf(dir);
    for (const f of ['unet/model.onnx', 'text_encoder/model.onnx', 'vae_encoder/model.onnx']) {
      expect(readFileSync(join(dir, f)).equals(readFileSync(join(tiny, f)))).toBe(true);
      if (m.copied === 0) expect(statSync(join(dir, f)).ino).toBe(statSync(join(tiny, f)).ino);
    }
    expect(existsSync(join(dir, 'tokenizer', 'vocab.json'))).toBe(true);
    expect(existsSync(`${dir}.partial`)).toBe(false);
    expect(m).toMatchObject({
      kind: 'latent-studio-variant',
      source: tiny,
      recipe: 'tiny-vae',
      recipeVersion: 1,
      tinyVae: { name: 'taesd', latentFamily: 'sd1', scalingFactor: 1, outputRange: [0, 1] },
    });
    expect(m.components.vae_decoder.from).toBe('tiny-vae');
    expect(m.components.unet.from).toBe('source');
    expect(m.linked + m.copied).toBe(
      Object.values(m.components).reduce((n, c) => n + (c.from === 'source' ? c.files : 0), 0),
    );

    const again: string[] = [];
    expect(await ensureTinyVaeVariant(home, tiny, (p) => again.push(p.reason))).toBe(dir);
    expect(again).toEqual([]);
    expect(manifestOf(dir).createdAt).toBe(m.createdAt);
  });

  it('is rebuilt when the source, the decoder or the choice of decoder changes', async () => {
    const home = newHome();
    const source = join(home, 'src', 'tiny-copy');
    cpSync(tiny, source, { recursive: true });
    const decoder = installDecoder(home, 'taesd');
    const reasons: string[] = [];
    const build = () => ensureTinyVaeVariant(home, source, (p) => reasons.push(p.reason));
    const dir = await build();
    writeFileSync(join(source, 'scheduler', 'note.txt'), 'changed');
    await build();
    expect(existsSync(join(dir, 'scheduler', 'note.txt'))).toBe(true);
    writeFileSync(join(decoder, 'vae_decoder', 'extra.txt'), 'changed');
    await build();
    installDecoder(home, 'a-first-taesd');
    await build();
    expect(manifestOf(dir).tinyVae.name).toBe('a-first-taesd');
    expect([...new Set(reasons)]).toEqual([
      'not built yet',
      'the source model changed since',
      'the tiny VAE decoder changed since',
      'another tiny VAE decoder is chosen now (a-first-taesd)',
    ]);
  });

  it('is refused without a decoder of the family, and for a decoder without latent_sample', async () => {
    const home = newHome();
    await expect(ensureTinyVaeVariant(home, tiny)).rejects.toThrow(
      /no tiny VAE decoder for the sd1 latent family/,
    );
    const bad = installDecoder(home, 'not-a-decoder');
    cpSync(join(tiny, 'text_encoder', 'model.onnx'), join(bad, 'vae_decoder', 'model.onnx'));
    await expect(ensureTinyVaeVariant(home, tiny)).rejects.toThrow(
      /has no input latent_sample \(it has input_ids\)/,
    );
    expect(existsSync(variantStorePath(home, tiny, 'tiny-vae'))).toBe(false);
    rmSync(bad, { recursive: true });
  });
});
