import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { buildVariant, partialDir } from '../../src/main/optimize/build-variant';
import { tempHome } from '../helpers/temp-home';

/**
 * Where a build may write (issue 22, item 3): `force` replaces only a folder the studio wrote
 * (it holds a studio `latent-studio.json`), never one that holds the source or another model, and
 * the partial folder a build writes into lies inside its output folder.
 */
const fixture = resolve('test/fixtures/models/sd15-diffusers-script');
let home: ReturnType<typeof tempHome>;
let source: string;
beforeAll(() => {
  home = tempHome('latent-studio-optimize-out-');
  source = join(home.dir, 'models', 'sd15');
  cpSync(fixture, source, { recursive: true });
});
afterAll(() => home.cleanup());

const recipeOf = (dir: string): string =>
  (JSON.parse(readFileSync(join(dir, 'latent-studio.json'), 'utf8')) as { recipe: string }).recipe;
const sourceIntact = (): boolean => existsSync(join(source, 'unet', 'model.onnx'));

describe('optimize --out --force', () => {
  it('never replaces a folder the studio did not write', async () => {
    const mine = join(home.dir, 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'keep.txt'), 'mine');
    await expect(buildVariant(source, 'int8', mine, { force: true })).rejects.toThrow(
      /^out: .* was not written by the studio \(it has no latent-studio\.json\).*choose a new or empty folder/,
    );
    expect(readFileSync(join(mine, 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('refuses a folder that holds the source, and one inside the source', async () => {
    writeFileSync(
      join(home.dir, 'models', 'latent-studio.json'),
      '{"kind":"latent-studio-variant"}',
    );
    await expect(
      buildVariant(source, 'int8', join(home.dir, 'models'), { force: true }),
    ).rejects.toThrow(/^out: .* holds the source model .*; choose a folder outside it/);
    await expect(buildVariant(source, 'int8', join(source, 'v'), { force: true })).rejects.toThrow(
      /^out: .* is inside the source model .*; choose a folder outside it/,
    );
    expect(sourceIntact()).toBe(true);
    expect(existsSync(join(source, 'v'))).toBe(false);
  });

  it('writes its partial folder inside the output folder and leaves a sibling of that name alone', async () => {
    const out = join(home.dir, 'variants', 'sd15--int8');
    const sibling = `${out}.partial`;
    mkdirSync(sibling, { recursive: true });
    writeFileSync(join(sibling, 'keep.txt'), 'mine');
    expect(partialDir(out).startsWith(resolve(out) + sep)).toBe(true);
    let seen = false;
    await buildVariant(source, 'int8', out, {
      onProgress: () => {
        seen ||= existsSync(partialDir(out));
      },
    });
    expect(seen).toBe(true);
    expect(existsSync(partialDir(out))).toBe(false);
    expect(recipeOf(out)).toBe('int8');
    expect(readFileSync(join(sibling, 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('replaces a variant the studio wrote, but not one that now holds another model', async () => {
    const out = join(home.dir, 'variants', 'replace-me');
    await buildVariant(source, 'int8', out);
    await expect(buildVariant(source, 'int4', out)).rejects.toThrow(
      /^out: .* exists and is not empty; .*--force/,
    );
    await buildVariant(source, 'int4', out, { force: true });
    expect(recipeOf(out)).toBe('int4');
    expect(existsSync(partialDir(out))).toBe(false);

    cpSync(fixture, join(out, 'extra', 'other-model'), { recursive: true });
    await expect(buildVariant(source, 'int8', out, { force: true })).rejects.toThrow(
      /^out: .* holds another model \(extra[\\/]other-model\); .*choose/,
    );
    expect(existsSync(join(out, 'extra', 'other-model', 'unet', 'model.onnx'))).toBe(true);
    expect(recipeOf(out)).toBe('int4');
  });

  it('cannot be made to mark a folder as its own: the partial folder name is reserved', async () => {
    const theirs = join(home.dir, 'their-model');
    cpSync(fixture, theirs, { recursive: true });
    await expect(
      buildVariant(source, 'int8', join(theirs, '.latent-studio.partial')),
    ).rejects.toThrow(
      /^out: \.latent-studio\.partial is the name of the studio's own partial folder/,
    );
    // An empty partial folder (one no build was moving files from) does not make a folder the studio's.
    mkdirSync(join(theirs, '.latent-studio.partial'));
    await expect(buildVariant(source, 'int8', theirs, { force: true })).rejects.toThrow(
      /^out: .* was not written by the studio/,
    );
    expect(existsSync(join(theirs, 'unet', 'model.onnx'))).toBe(true);
  });

  it('a build stopped while moving its files in leaves a folder the next forced build replaces', async () => {
    const out = join(home.dir, 'variants', 'interrupted');
    await buildVariant(source, 'int8', out);
    // What a kill half-way through the move leaves: some files, no manifest, the marked partial.
    rmSync(join(out, 'latent-studio.json'));
    mkdirSync(partialDir(out));
    writeFileSync(join(partialDir(out), '.moving'), '');
    await buildVariant(source, 'int4', out, { force: true });
    expect(recipeOf(out)).toBe('int4');
    expect(existsSync(partialDir(out))).toBe(false);
  });

  it('a failed build into a new folder leaves nothing behind', async () => {
    const out = join(home.dir, 'variants', 'no-space');
    await expect(buildVariant(source, 'int8', out, { freeBytes: () => 1000 })).rejects.toThrow(
      /not enough disk space/,
    );
    expect(existsSync(out)).toBe(false);
  });
});
