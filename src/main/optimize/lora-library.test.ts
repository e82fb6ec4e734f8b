import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempHome } from '../../../test/helpers/temp-home';
import { LoraSummarySchema } from '../../shared/lora-schemas';
import { cardForFile } from './bundled-loras';
import { cardSchedulerOverrides, listLoras, resolveLoraRef } from './lora-library';

const TINY = { name: 'tiny-shapes', dir: resolve('resources/models/tiny-shapes') };
// An SD 1.x export that is not tiny-shapes.
const SD15 = { name: 'sd15', dir: resolve('test/fixtures/models/sd15-optimum-float') };
const SDXL = { name: 'sdxl', dir: resolve('test/fixtures/models/sdxl') };

let home: ReturnType<typeof tempHome>;
let loras: string;
beforeEach(() => {
  home = tempHome();
  loras = join(home.dir, 'loras');
  mkdirSync(loras);
});
afterEach(() => home.cleanup());

const card = (file: string, fields: Record<string, unknown>): void =>
  writeFileSync(join(loras, file.replace(/\.safetensors$/, '.json')), JSON.stringify(fields));

describe('listLoras', () => {
  it('offers the bundled LCM-LoRA for tiny-shapes with its card, and not for another model', () => {
    const list = listLoras(home.dir, TINY);
    const lcm = list.find((l) => l.id === 'lora:bundled/tiny-shapes-lcm.safetensors');
    expect(lcm).toMatchObject({
      name: 'tiny-shapes-lcm',
      source: 'bundled',
      kind: 'lcm-lora',
      match: 'model',
      card: { scale: 1, scheduler: 'lcm', steps: 4, guidance: 1 },
    });
    expect(lcm?.sizeBytes).toBeGreaterThan(1_000_000);
    for (const l of list) LoraSummarySchema.parse(l);
    expect(listLoras(home.dir, SD15).some((l) => l.source === 'bundled')).toBe(false);
  });

  it("lists the person's own LoRAs: by model, by family, bare; never a card for another model", () => {
    for (const f of ['mine.safetensors', 'for-sd1.safetensors', 'for-sdxl.safetensors'])
      writeFileSync(join(loras, f), 'x');
    writeFileSync(join(loras, 'other-model.safetensors'), 'x');
    writeFileSync(join(loras, 'notes.txt'), 'not a LoRA');
    card('for-sd1.safetensors', {
      name: 'Pixel style',
      kind: 'style',
      file: 'for-sd1.safetensors',
      family: 'sd1',
      scale: 0.8,
    });
    card('for-sdxl.safetensors', {
      name: 'XL thing',
      kind: 'style',
      file: 'for-sdxl.safetensors',
      family: 'sdxl',
    });
    card('other-model.safetensors', {
      name: 'other',
      kind: 'style',
      file: 'other-model.safetensors',
      baseModel: 'some-other-model',
    });
    const sd15 = listLoras(home.dir, SD15);
    expect(sd15.map((l) => [l.id, l.match, l.kind])).toEqual([
      ['lora:home/for-sd1.safetensors', 'family', 'style'],
      ['lora:home/mine.safetensors', 'unknown', null],
    ]);
    expect(sd15[0].card).toEqual({ scale: 0.8 });
    expect(sd15[1].card).toBeNull();
    const sdxl = listLoras(home.dir, SDXL).map((l) => l.id);
    expect(sdxl).toEqual(['lora:home/for-sdxl.safetensors', 'lora:home/mine.safetensors']);
  });

  it('skips a broken card and a card whose file leaves the folder (its file shows bare)', () => {
    writeFileSync(join(loras, 'a.safetensors'), 'x');
    writeFileSync(join(loras, 'a.json'), '{ not json');
    card('b.safetensors', { name: 'escape', kind: 'style', file: '../b.safetensors' });
    writeFileSync(join(home.dir, 'b.safetensors'), 'outside');
    expect(listLoras(home.dir, SD15).map((l) => [l.id, l.card])).toEqual([
      ['lora:home/a.safetensors', null],
    ]);
  });
});

describe('resolveLoraRef', () => {
  it('turns ids into files in the studio folders and leaves paths alone', () => {
    writeFileSync(join(loras, 'mine.safetensors'), 'x');
    expect(resolveLoraRef('lora:home/mine.safetensors', home.dir)).toBe(
      join(loras, 'mine.safetensors'),
    );
    expect(resolveLoraRef('lora:bundled/tiny-shapes-lcm.safetensors', home.dir)).toBe(
      resolve('resources/loras/tiny-shapes-lcm.safetensors'),
    );
    expect(resolveLoraRef('/some/where/x.safetensors', home.dir)).toBe('/some/where/x.safetensors');
  });

  it.each([
    ['lora:home/../studio.db', /is not a LoRA id/],
    ['lora:home/..', /is not a LoRA id/],
    ['lora:elsewhere/x.safetensors', /is not a LoRA id/],
    ['lora:home', /is not a LoRA id/],
    ['lora:home/sub/x.safetensors', /is not a LoRA id/],
    ['lora:home/../adapter_model.safetensors', /is not a LoRA id/],
    ['lora:home//adapter_model.safetensors', /is not a LoRA id/],
    ['lora:home/a/b/adapter_model.safetensors', /is not a LoRA id/],
    ['lora:home/gone/adapter_model.safetensors', /no LoRA gone\/adapter_model\.safetensors in/],
    ['lora:home/missing.safetensors', /no LoRA missing\.safetensors in/],
  ])('refuses %s', (id, message) => {
    expect(() => resolveLoraRef(id, home.dir, 'loras.0.path')).toThrow(message);
    expect(() => resolveLoraRef(id, home.dir, 'loras.0.path')).toThrow(/^loras\.0\.path: /);
  });
});

describe('PEFT adapter folders', () => {
  it('lists <home>/loras/<folder>/adapter_model.safetensors under the folder name, and resolves its id', () => {
    const folder = join(loras, 'my-style');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'adapter_model.safetensors'), 'weights');
    writeFileSync(join(folder, 'adapter_config.json'), JSON.stringify({ r: 4, lora_alpha: 8 }));
    // A folder without an adapter, and a hidden one, are not offered.
    mkdirSync(join(loras, 'empty'), { recursive: true });
    mkdirSync(join(loras, '.cache'), { recursive: true });
    writeFileSync(join(loras, '.cache', 'adapter_model.safetensors'), 'x');
    const listed = listLoras(home.dir, SD15).filter((l) => l.file.includes('/'));
    expect(listed.map((l) => [l.id, l.name, l.sizeBytes, l.card])).toEqual([
      ['lora:home/my-style/adapter_model.safetensors', 'my-style', 7, null],
    ]);
    expect(resolveLoraRef(listed[0].id, home.dir)).toBe(join(folder, 'adapter_model.safetensors'));
  });
});

describe('cardSchedulerOverrides', () => {
  it("gives the card's scheduler settings only to a run that samples as the card says", () => {
    const file = join(loras, 'student.safetensors');
    writeFileSync(file, 'not read here');
    card('student.safetensors', {
      name: 'student',
      kind: 'step-distilled',
      file: 'student.safetensors',
      family: 'sd1',
      scheduler: 'ddim',
      steps: 8,
      guidance: 7.5,
      schedulerOverrides: { steps_offset: 86 },
    });
    expect(cardSchedulerOverrides(file, { scheduler: 'ddim', steps: 8 })).toEqual({
      steps_offset: 86,
    });
    // The card's scheduler is implied when none is asked for; steps must be the card's own.
    expect(cardSchedulerOverrides(file, { steps: 8 })).toEqual({ steps_offset: 86 });
    expect(cardSchedulerOverrides(file, { scheduler: 'ddim', steps: 12 })).toBeUndefined();
    expect(cardSchedulerOverrides(file, { scheduler: 'ddim' })).toBeUndefined();
    expect(cardSchedulerOverrides(file, { scheduler: 'euler', steps: 8 })).toBeUndefined();
    // A LoRA without a card, or a card without such settings: nothing.
    writeFileSync(join(loras, 'bare.safetensors'), 'x');
    expect(cardSchedulerOverrides(join(loras, 'bare.safetensors'), { steps: 8 })).toBeUndefined();
  });

  it('takes a card with its own DDIM timesteps only when they fit its scheduler and steps', () => {
    const file = join(loras, 'grid.safetensors');
    writeFileSync(file, 'not read here');
    const grid = [961, 921, 841, 721, 561, 401, 241, 81];
    const base = { name: 'grid', kind: 'step-distilled', file: 'grid.safetensors', family: 'sd1' };
    card('grid.safetensors', {
      ...base,
      scheduler: 'ddim',
      steps: 8,
      schedulerOverrides: { timesteps: grid },
    });
    expect(cardSchedulerOverrides(file, { steps: 8 })).toEqual({ timesteps: grid });
    // A card whose grid does not fit is broken, so it is not offered (and brings no settings).
    for (const broken of [
      { scheduler: 'ddim', steps: 7 },
      { scheduler: 'euler', steps: 8 },
      { steps: 8 },
    ]) {
      card('grid.safetensors', { ...base, ...broken, schedulerOverrides: { timesteps: grid } });
      expect(cardForFile(file)).toBeUndefined();
    }
    // A grid that is not a list, or a list under a key that takes one value: refused as well.
    for (const overrides of [{ timesteps: 961 }, { steps_offset: [1, 2] }]) {
      card('grid.safetensors', {
        ...base,
        scheduler: 'ddim',
        steps: 8,
        schedulerOverrides: overrides,
      });
      expect(cardForFile(file)).toBeUndefined();
    }
  });

  it('lists the bundled step-distilled LoRA with its grid, so the picker can say it', () => {
    const student = listLoras(home.dir, TINY).find(
      (l) => l.id === 'lora:bundled/tiny-shapes-distill10-cfg.safetensors',
    );
    expect(student).toMatchObject({
      kind: 'step-distilled',
      card: {
        scheduler: 'ddim',
        steps: 10,
        guidance: 7.5,
        schedulerOverrides: { timesteps: [961, 921, 881, 841, 761, 681, 561, 401, 241, 81] },
      },
    });
  });

  it('reads the bundled step-distilled card', () => {
    const bundled = resolve('resources/loras/tiny-shapes-distill10-cfg.safetensors');
    expect(cardSchedulerOverrides(bundled, { scheduler: 'ddim', steps: 10 })).toEqual({
      timesteps: [961, 921, 881, 841, 761, 681, 561, 401, 241, 81],
    });
  });
});
