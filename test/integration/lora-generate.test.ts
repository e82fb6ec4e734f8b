import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { dispatch } from '../../src/main/services/dispatch';
import { compareImages } from '../../src/main/bench/quality';
import { useTempStudio } from '../helpers/temp-studio';
import { colourAdherence } from '../helpers/shape-colour';

/**
 * `generate` with LoRAs: merged into a cached variant of the model, the LCM scheduler on a UNet that
 * has no `timestep_cond`, and the bundled tiny-shapes LCM-LoRA drawing what the prompt asks in 4 steps.
 */
const ctx = useTempStudio();
const RANDOM_LORA = resolve('test/fixtures/lora/tiny-shapes-random.safetensors');
const LCM_LORA = resolve('resources/loras/tiny-shapes-lcm.safetensors');

const generate = (input: Record<string, unknown>) =>
  dispatch(ctx.studio.handlers, 'generate', {
    model: 'tiny-shapes',
    prompt: 'a red circle on a blue background',
    seed: 5,
    steps: 4,
    ...input,
  });

const variants = (): string[] =>
  readdirSync(join(ctx.home, 'models')).filter((d) => d.startsWith('tiny-shapes--lora-'));

describe('generate --lora', () => {
  it('merges a LoRA into a cached variant, reused while the LoRA and scale stay the same', async () => {
    const plain = await generate({});
    const merged = await generate({ loras: [{ path: RANDOM_LORA, scale: 1 }] });
    expect(variants()).toHaveLength(1);
    const manifest = join(ctx.home, 'models', variants()[0], 'latent-studio.json');
    const built = statSync(manifest).mtimeMs;
    const again = await generate({ loras: [{ path: RANDOM_LORA, scale: 1 }] });
    expect(statSync(manifest).mtimeMs).toBe(built);
    expect(readFileSync(again.images[0].path).equals(readFileSync(merged.images[0].path))).toBe(
      true,
    );
    // The LoRA changed the picture.
    const q = compareImages(
      readFileSync(plain.images[0].path),
      readFileSync(merged.images[0].path),
    );
    expect(q.psnr).toBeLessThan(40);
    expect(merged.warnings.join(' ')).toMatch(
      /LoRA .*tiny-shapes-random\.safetensors merged at scale 1/,
    );
    // Another scale is another variant.
    await generate({ loras: [{ path: RANDOM_LORA, scale: 0.5 }] });
    expect(variants()).toHaveLength(2);
  });

  it.each([
    [{ loras: [{ path: RANDOM_LORA, scale: 9 }] }, /^loras\.0\.scale: must be between -4 and 4/],
    [{ loras: [{ path: '', scale: 1 }] }, /^loras\.0\.path: name a \.safetensors LoRA file/],
    [{ loras: [{ path: RANDOM_LORA, weight: 1 }] }, /unknown field\(s\) "weight"/],
  ])('%j is refused', async (input, message) => {
    await expect(generate(input)).rejects.toThrow(message);
  });

  it('refuses a file that is not a LoRA, and a LoRA for another model, merging nothing', async () => {
    const notLora = join(ctx.home, 'not-a-lora.safetensors');
    writeFileSync(notLora, 'this is not a safetensors file at all');
    await expect(generate({ loras: [{ path: notLora, scale: 1 }] })).rejects.toThrow(
      /not a valid \.safetensors file/,
    );
    await expect(
      generate({
        loras: [{ path: resolve('test/fixtures/lora/small/peft-lora.safetensors'), scale: 1 }],
      }),
    ).rejects.toThrow(
      /5 LoRA key\(s\) map to no weight in unet: .*unet\.base_model\.model\.blocks\.0\.to_q/,
    );
  });

  it('runs the LCM scheduler on a UNet without timestep_cond (plain CFG when guidance > 1)', async () => {
    const r = await generate({ scheduler: 'lcm', steps: 4, guidance: 1 });
    expect(r.scheduler).toBe('lcm');
    expect(r.timings.unetPerStep).toHaveLength(4);
    const cfg = await generate({ scheduler: 'lcm', steps: 4, guidance: 1.5 });
    expect(cfg.timings.unetPerStep).toHaveLength(4);
    const q = compareImages(readFileSync(r.images[0].path), readFileSync(cfg.images[0].path));
    expect(q.psnr).toBeLessThan(60);
  });

  it('with the bundled LCM-LoRA, 4 LCM steps draw the colour the prompt names', async () => {
    const card = JSON.parse(
      readFileSync(resolve('resources/loras/tiny-shapes-lcm.json'), 'utf8'),
    ) as { guidance: number; steps: number };
    const image = async (prompt: string, seed: number): Promise<PNG> => {
      const r = await generate({
        prompt,
        seed,
        scheduler: 'lcm',
        steps: card.steps,
        guidance: card.guidance,
        loras: [{ path: LCM_LORA, scale: 1 }],
      });
      expect(r.timings.unetPerStep).toHaveLength(4);
      return PNG.sync.read(readFileSync(r.images[0].path));
    };
    const { correct, total, meanGap } = await colourAdherence(image);
    expect(correct / total).toBeGreaterThanOrEqual(0.75);
    expect(meanGap).toBeGreaterThan(60);
  });
});

describe('generate with a step-distilled LoRA', () => {
  it("applies its card's timestep grid when sampling as the card says, and only then", async () => {
    const student = 'lora:bundled/tiny-shapes-distill10-cfg.safetensors';
    const asCard = await generate({
      loras: [{ path: student, scale: 1 }],
      scheduler: 'ddim',
      steps: 10,
      guidance: 7.5,
    });
    expect(asCard.warnings.join(' ')).toMatch(
      /card's scheduler settings applied \(timesteps 961, 921, 881, 841, 761, 681, 561, 401, 241, 81\)/,
    );
    const other = await generate({
      loras: [{ path: student, scale: 1 }],
      scheduler: 'ddim',
      steps: 12,
      guidance: 7.5,
    });
    expect(other.warnings.join(' ')).not.toMatch(/scheduler settings applied/);
  });
});
