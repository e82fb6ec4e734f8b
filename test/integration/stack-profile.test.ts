import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dispatch } from '../../src/main/services/dispatch';
import { findRecipe } from '../../src/main/bench/recipes';
import { composeRecipes } from '../../src/main/bench/tiers';
import { withCardSampling } from '../../src/main/bench/variants';
import { openDatabase } from '../../src/main/store/database';
import { BenchRepo } from '../../src/main/store/bench-repo';
import { useTempStudio } from '../helpers/temp-studio';

/**
 * A profile saved from a stack with a combined variant: generate builds that variant on first use,
 * and a LoRA asked for on top is merged under it (the float weights first, then the composition).
 */
const ctx = useTempStudio();
const RANDOM_LORA = resolve('test/fixtures/lora/tiny-shapes-random.safetensors');

describe('a stacked profile with a combined variant', () => {
  it(
    'generate runs its attention+int8 variant, and stacks it after a LoRA',
    { timeout: 240_000 },
    async () => {
      const stack = composeRecipes('advanced', [
        findRecipe('threads-physical'),
        findRecipe('int8'),
        findRecipe('attention'),
      ]);
      expect(stack.variant).toBe('attention+int8');
      const db = openDatabase(join(ctx.home, 'studio.db'));
      try {
        new BenchRepo(db).saveProfile({
          name: 'stacked',
          model: 'tiny-shapes',
          recipeJson: JSON.stringify(stack),
          sourceRunId: null,
          makeDefault: false,
        });
      } finally {
        db.close();
      }
      const generate = (input: Record<string, unknown>) =>
        dispatch(ctx.studio.handlers, 'generate', {
          model: 'tiny-shapes',
          prompt: 'a red circle on a blue background',
          seed: 5,
          steps: 4,
          profile: 'stacked',
          ...input,
        });
      const models = () => readdirSync(join(ctx.home, 'models'));

      const plain = await generate({});
      expect(plain.warnings.join(' ')).not.toMatch(/could not be built/);
      expect(models()).toContain('tiny-shapes--attention+int8');

      const withLora = await generate({ loras: [{ path: RANDOM_LORA, scale: 1 }] });
      expect(withLora.warnings.join(' ')).not.toMatch(/cannot take a LoRA/);
      const merged = models().filter((d) => d.startsWith('tiny-shapes--attention+int8+lora-'));
      expect(merged).toHaveLength(1);
      const manifest = JSON.parse(
        readFileSync(join(ctx.home, 'models', merged[0], 'latent-studio.json'), 'utf8'),
      ) as {
        recipe: string;
        loras?: unknown[];
        components: Record<string, { transforms: string[] }>;
      };
      expect(manifest.recipe).toBe('attention+int8');
      expect(manifest.loras).toHaveLength(1);
      expect(manifest.components.unet.transforms).toEqual([
        'lora',
        'attention',
        'int8-matmul',
        'int8-weights-dq',
      ]);
    },
  );

  it(
    "a distilled profile keeps its student under the person's LoRA: both merged, its sampling kept",
    { timeout: 240_000 },
    async () => {
      const db = openDatabase(join(ctx.home, 'studio.db'));
      try {
        new BenchRepo(db).saveProfile({
          name: 'student',
          model: 'tiny-shapes',
          // As the bench saves it: sampled as the student's card says.
          recipeJson: JSON.stringify(
            withCardSampling(
              findRecipe('distilled-steps'),
              resolve('resources/models/tiny-shapes'),
              'sd1',
              ctx.home,
            ),
          ),
          sourceRunId: null,
          makeDefault: false,
        });
      } finally {
        db.close();
      }
      const models = join(ctx.home, 'models');
      const before = new Set(existsSync(models) ? readdirSync(models) : []);
      const result = await dispatch(ctx.studio.handlers, 'generate', {
        model: 'tiny-shapes',
        prompt: 'a red circle on a blue background',
        seed: 5,
        profile: 'student',
        loras: [{ path: RANDOM_LORA, scale: 0.5 }],
      });
      expect(result.warnings.join(' ')).not.toMatch(/LoRA only|cannot take a LoRA|not found/);
      // The student's own sampling (its card: DDIM on its grid), not the model's 25 steps.
      const card = JSON.parse(
        readFileSync('resources/loras/tiny-shapes-distill10-cfg.json', 'utf8'),
      ) as { steps: number; scheduler: string };
      expect(result.steps).toBe(card.steps);
      expect(result.scheduler).toBe(card.scheduler);
      const merged = readdirSync(models).filter((d) => !before.has(d));
      expect(merged, merged.join(', ')).toHaveLength(1);
      const manifest = JSON.parse(
        readFileSync(join(ctx.home, 'models', merged[0], 'latent-studio.json'), 'utf8'),
      ) as { loras?: { file: string; scale: number }[] };
      expect(manifest.loras?.map((l) => [l.file, l.scale])).toEqual([
        [resolve('resources/loras/tiny-shapes-distill10-cfg.safetensors'), 1],
        [RANDOM_LORA, 0.5],
      ]);
    },
  );
});
