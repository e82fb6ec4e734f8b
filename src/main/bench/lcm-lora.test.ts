import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { proposeCandidates } from './wizard';
import { canBuildVariant } from './variants';
import { findLcmLora, findStepDistilledLora } from '../optimize/bundled-loras';

/** The distilled tier: proposed where an LCM-LoRA for the model exists, and only there. */
const home = mkdtempSync(join(tmpdir(), 'ls-lcm-lora-'));
const tiny = resolve('resources/models/tiny-shapes');
const sd15 = resolve('test/fixtures/models/sd15-optimum-float');

const question = (modelDir: string, family: 'sd1' | 'lcm', priority: 'speed' | 'quality') =>
  ({
    hardwareClass: 'cpu-only',
    priority,
    objective: 'latency',
    family,
    variants: [] as readonly string[],
    canBuildVariant: (v: string) => canBuildVariant(v, modelDir, family, home),
  }) as const;

describe('the distilled tier', () => {
  it('is proposed for tiny-shapes (its bundled LCM-LoRA), with the card it comes from', () => {
    const card = findLcmLora(tiny, 'sd1', home);
    expect(card).toMatchObject({ name: 'tiny-shapes-lcm', scheduler: 'lcm', steps: 4 });
    expect(card?.path).toBe(resolve('resources/loras/tiny-shapes-lcm.safetensors'));
    const p = proposeCandidates(question(tiny, 'sd1', 'speed'));
    expect(p.recipes.map((r) => r.name)).toContain('lcm-lora');
    // A variant folder of tiny-shapes is still tiny-shapes.
    expect(findLcmLora(join(home, 'models', 'tiny-shapes--int8'), 'sd1', home)?.name).toBe(
      'tiny-shapes-lcm',
    );
  });

  it('is not proposed where no LCM-LoRA exists, for quality, or for models that are already few-step', () => {
    const other = proposeCandidates(question(sd15, 'sd1', 'speed'));
    expect(other.recipes.map((r) => r.name)).not.toContain('lcm-lora');
    expect(other.skipped.find((s) => s.recipe === 'lcm-lora')).toBeDefined();
    expect(
      proposeCandidates(question(tiny, 'sd1', 'quality')).recipes.map((r) => r.name),
    ).not.toContain('lcm-lora');
    expect(
      proposeCandidates(question(tiny, 'lcm', 'speed')).recipes.map((r) => r.name),
    ).not.toContain('lcm-lora');
  });

  it("offers a person's own LCM-LoRA card to every model of its family, never a bundled one", () => {
    expect(findLcmLora(sd15, 'sd1', home)).toBeUndefined();
    mkdirSync(join(home, 'loras'), { recursive: true });
    copyFileSync(
      'test/fixtures/lora/small/peft-lora.safetensors',
      join(home, 'loras', 'mine.safetensors'),
    );
    writeFileSync(
      join(home, 'loras', 'mine.json'),
      JSON.stringify({
        name: 'lcm-sd15',
        kind: 'lcm-lora',
        file: 'mine.safetensors',
        family: 'sd1',
        steps: 4,
        guidance: 1.5,
      }),
    );
    expect(findLcmLora(sd15, 'sd1', home)).toMatchObject({ name: 'lcm-sd15', guidance: 1.5 });
    expect(findLcmLora(sd15, 'sdxl', home)).toBeUndefined();
    expect(canBuildVariant('lcm-lora', sd15, 'sd1', home)).toBe(true);
    expect(canBuildVariant('lcm-lora')).toBe(false);
  });
});

describe('the distilled tier that keeps the pictures', () => {
  it('is proposed for tiny-shapes at every priority (judged by SSIM/PSNR), with its card', () => {
    const card = findStepDistilledLora(tiny, 'sd1', home);
    expect(card).toMatchObject({
      name: 'tiny-shapes-distill10-cfg',
      scheduler: 'ddim',
      steps: 10,
      guidance: 7.5,
      // Its own grid: it starts where the teacher's starts (961) and is densest where the layout forms.
      schedulerOverrides: { timesteps: [961, 921, 881, 841, 761, 681, 561, 401, 241, 81] },
      teacher: { scheduler: 'ddim', steps: 25, guidance: 7.5 },
    });
    expect(card?.path).toBe(resolve('resources/loras/tiny-shapes-distill10-cfg.safetensors'));
    for (const priority of ['speed', 'quality'] as const) {
      const p = proposeCandidates(question(tiny, 'sd1', priority));
      expect(p.recipes.map((r) => r.name)).toContain('distilled-steps');
    }
  });

  it('is not proposed where the model has no step-distilled LoRA, or is already few-step', () => {
    const other = proposeCandidates(question(sd15, 'sd1', 'speed'));
    expect(other.recipes.map((r) => r.name)).not.toContain('distilled-steps');
    expect(other.skipped.find((s) => s.recipe === 'distilled-steps')).toBeDefined();
    expect(
      proposeCandidates(question(tiny, 'lcm', 'speed')).recipes.map((r) => r.name),
    ).not.toContain('distilled-steps');
    // Its LoRA is not an LCM-LoRA: the two lookups never return each other's card.
    expect(findLcmLora(tiny, 'sd1', home)?.name).toBe('tiny-shapes-lcm');
  });
});
