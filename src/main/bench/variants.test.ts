import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { VariantManifest } from '../optimize/build-variant';
import { variantStorePath } from '../optimize/variant-store';
import { bundledModelsDir } from '../paths';
import { tempHome } from '../../../test/helpers/temp-home';
import { canBuildVariant, prepareVariant, variantParts } from './variants';

/** Combined variants built for real on tiny-shapes (a few seconds each) in a throwaway home. */
const tiny = join(bundledModelsDir(), 'tiny-shapes');
const home = tempHome('ls-combined-variants-');
afterAll(() => home.cleanup());

const manifestOf = (dir: string): VariantManifest =>
  JSON.parse(readFileSync(join(dir, 'latent-studio.json'), 'utf8')) as VariantManifest;

const build = async (variant: string) => {
  const messages: string[] = [];
  const fractions: number[] = [];
  const dir = await prepareVariant(
    tiny,
    variant,
    (p) => {
      messages.push(p.message);
      fractions.push(p.fraction);
    },
    home.dir,
  );
  return { dir, messages, fractions };
};

describe('combined variants', () => {
  it('builds attention+int8 once under its canonical name, self-checked; the other order reuses it', async () => {
    const first = await build('int8+attention');
    expect(first.dir).toBe(variantStorePath(home.dir, tiny, 'attention+int8'));
    expect(first.messages.length).toBeGreaterThan(0);
    const m = manifestOf(first.dir);
    expect(m.recipe).toBe('attention+int8');
    const unet = m.components.unet;
    expect(unet.transforms).toEqual(['attention', 'int8-matmul', 'int8-weights-dq']);
    // Both transforms really changed something: attention blocks fused, then weights quantized.
    expect(unet.reports.map((r) => [r.transform, r.changed > 0])).toEqual([
      ['attention', true],
      ['int8-matmul', true],
      ['int8-weights-dq', true],
    ]);
    // The same self-check as any variant: the loosest tolerance of the chain, and it passed.
    expect(unet.check?.minCosine).toBe(0.99);
    expect(unet.check?.cosine).toBeGreaterThanOrEqual(0.99);
    expect(unet.check?.nanCount).toBe(0);

    const again = await build('attention+int8');
    expect(again.dir).toBe(first.dir);
    expect(again.messages).toEqual([]); // cached: nothing rebuilt
    expect(manifestOf(again.dir).createdAt).toBe(m.createdAt);
  });

  it('refuses int8 with int4 before building anything', async () => {
    expect(variantParts('int8+int4')).toEqual({
      refused: expect.stringMatching(/int8 and int4 cannot be combined/),
    });
    expect(canBuildVariant('int4+int8', tiny, 'sd1', home.dir)).toBe(false);
    await expect(prepareVariant(tiny, 'int4+int8', undefined, home.dir)).rejects.toThrow(
      /cannot be combined: both decide how the text_encoder's weights are stored/,
    );
    const models = readdirSync(join(home.dir, 'models'));
    expect(models.filter((d) => d.includes('int4'))).toEqual([]);
  });

  it('a distilled stack: the LoRA merged into float32 first (shared with lcm-lora), then optimized and checked against the merge', async () => {
    expect(canBuildVariant('lcm-lora+attention', tiny, 'sd1', home.dir)).toBe(true);
    const merged = await build('lcm-lora');
    expect(manifestOf(merged.dir).recipe).toBe('lora');

    const stacked = await build('attention+lcm-lora');
    expect(stacked.dir).toBe(variantStorePath(home.dir, merged.dir, 'attention'));
    // The merged model was reused, not merged again: every message is about the optimizer step.
    expect(stacked.messages.every((msg) => msg.includes('lcm-lora+attention'))).toBe(true);
    expect(Math.min(...stacked.fractions)).toBeGreaterThanOrEqual(0.5);
    const m = manifestOf(stacked.dir);
    // Its source is the merged model, so the check holds it to attention's own tolerance
    // (a check against the unmerged source could only ask for finite outputs).
    expect(m.source).toBe(merged.dir);
    expect(m.recipe).toBe('attention');
    expect(m.components.unet.check?.minCosine).toBe(0.9999);
    expect(m.components.unet.check?.cosine).toBeGreaterThanOrEqual(0.9999);
    expect(existsSync(join(stacked.dir, 'unet', 'model.onnx'))).toBe(true);
  });
});
