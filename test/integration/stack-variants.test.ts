import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchResultSchema } from '../../src/shared/bench-schemas';
import { runBenchmark } from '../../src/main/bench/runner';
import { LCM_LORA_RECIPE, findRecipe } from '../../src/main/bench/recipes';
import { loadTestSet } from '../../src/main/bench/test-sets';
import { planStacks } from '../../src/main/bench/tiers';
import { HardwareService } from '../../src/main/hardware/hardware-service';
import { bundledModelsDir } from '../../src/main/paths';
import { modelDefaults } from '../../src/main/profiles/profile';
import { openDatabase, type Db } from '../../src/main/store/database';
import { BenchRepo } from '../../src/main/store/bench-repo';
import { RunsRepo } from '../../src/main/store/runs-repo';
import { variantStorePath } from '../../src/main/optimize/variant-store';
import { tempHome } from '../helpers/temp-home';

/**
 * Stacks of several variants, measured for real on tiny-shapes. Whether attention and int8 both
 * pass on a run depends on this machine's noise, so the stacks come from the stack builder with
 * given outcomes (both passed, int4 too, and the distilled student), and the runner then measures
 * the singles and those stacks side by side, building each combined variant on first use.
 */
const tiny = join(bundledModelsDir(), 'tiny-shapes');
const home = tempHome('ls-stack-variants-');
let db: Db;

beforeAll(() => {
  db = openDatabase(join(home.dir, 'studio.db'));
});
afterAll(() => {
  db.close();
  home.cleanup();
});

describe('stacks with combined variants', () => {
  it(
    'builds attention+int8 (and lcm-lora+attention+int8) and measures each stack beside its parts',
    { timeout: 600_000 },
    async () => {
      const given = [
        { recipe: findRecipe('attention'), speedup: 1.08 },
        { recipe: findRecipe('int8'), speedup: 1.2 },
        { recipe: findRecipe('int4'), speedup: 1.1 },
        { recipe: LCM_LORA_RECIPE, speedup: 5 },
      ];
      const { stacks, skipped } = planStacks(given);
      expect(stacks.map((s) => [s.name, s.variant])).toEqual([
        ['stack-advanced', 'attention+int8'],
        ['stack-distilled', 'lcm-lora+attention+int8'],
      ]);
      expect(skipped.map((s) => s.recipe)).toEqual(['int8+int4']);

      const runs = new RunsRepo(db);
      const bench = new BenchRepo(db);
      const hardware = await new HardwareService(home.dir).detect();
      const runId = runs.start({
        kind: 'bench',
        model: 'tiny-shapes',
        summary: 'stacks with combined variants',
        params: {},
        appVersion: 'test',
        ortVersion: 'test',
      });
      const singles = [findRecipe('baseline'), findRecipe('attention'), findRecipe('int8')];
      const testSet = loadTestSet('auto', 'tiny-shapes');
      const result = BenchResultSchema.parse(
        await runBenchmark(
          {
            runId,
            home: home.dir,
            jobId: 'stack-variants',
            model: { name: 'tiny-shapes', dir: tiny, sizeBytes: 11e6, family: 'sd1' },
            // The stacks are measured as given (stack: false: no stacks planned from this run's noise).
            recipes: [...singles, LCM_LORA_RECIPE, ...stacks],
            testSet: { ...testSet, cases: testSet.cases.slice(0, 1) },
            settings: 'model',
            defaultSteps: modelDefaults(tiny).steps,
            repeats: 1,
            warmup: 1,
            ep: 'cpu',
            hardware,
            imagesDir: join(home.dir, 'images', `bench-${runId}`),
            profileOps: false,
            batch: 1,
            priority: 'speed',
            stack: false,
            interleave: false,
            skipped,
          },
          bench,
          { onProgress: () => {}, isCancelled: () => false },
        ),
      );
      const byName = new Map(result.recipes.map((r) => [r.name, r]));
      for (const name of ['attention', 'int8', 'lcm-lora', 'stack-advanced', 'stack-distilled']) {
        const r = byName.get(name);
        expect(r?.error ?? null, name).toBeNull();
        expect(r?.status, name).toBe('ok');
        expect(r?.latencyMs?.mean, name).toBeGreaterThan(0);
      }
      // The combined variants exist in the store under their canonical names, self-checked.
      const combined = variantStorePath(home.dir, tiny, 'attention+int8');
      const manifest = JSON.parse(readFileSync(join(combined, 'latent-studio.json'), 'utf8')) as {
        recipe: string;
        components: Record<string, { transforms: string[]; check?: { cosine: number } }>;
      };
      expect(manifest.recipe).toBe('attention+int8');
      expect(manifest.components.unet.transforms).toEqual([
        'attention',
        'int8-matmul',
        'int8-weights-dq',
      ]);
      expect(manifest.components.unet.check?.cosine).toBeGreaterThanOrEqual(0.99);

      // The advanced stack keeps the teacher's pixels (same sampling, the weights within the
      // quantizer's tolerance); the distilled one draws the student's, judged as its single is.
      const advanced = byName.get('stack-advanced');
      expect(advanced?.tier).toBe('advanced');
      expect(advanced?.ssim).toBeGreaterThan(0.85);
      const distilled = byName.get('stack-distilled');
      expect(distilled?.tier).toBe('advanced');
      expect(distilled?.adherence?.cases).toBe(1);
      // Each part's speed-up alone (measured in this run) and its share of the stack's.
      expect(distilled?.contributions?.map((c) => c.recipe)).toEqual([
        'int8',
        'attention',
        'lcm-lora',
      ]);
      for (const c of [...(advanced?.contributions ?? []), ...(distilled?.contributions ?? [])]) {
        expect(c.speedupAlone).toBe(byName.get(c.recipe)?.speedup);
      }
      // A 4-step student on top: far fewer UNet steps than the baseline's.
      expect(distilled?.latencyMs?.mean).toBeLessThan(byName.get('baseline')?.latencyMs?.mean ?? 0);
      expect(result.skipped).toEqual(skipped);
      expect(existsSync(join(home.dir, 'models'))).toBe(true);
    },
  );
});
