import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { BenchResultSchema, RunDetailSchema } from '../../src/shared/bench-schemas';
import { dispatch } from '../../src/main/services/dispatch';
import { useTempStudio } from '../helpers/temp-studio';

/**
 * The distilled tier on the bundled model, end to end: the LCM-LoRA variant is built, the baseline
 * and lcm-lora are measured on shape prompts, and both report prompt adherence beside SSIM/PSNR;
 * the verdict follows the judge's rules from those figures, and saving the student as a profile
 * needs acknowledgeQuality whenever its pixels failed. Two cases, one repeat: a small, real run.
 */
const ctx = useTempStudio();

describe('prompt adherence in a real benchmark', () => {
  it(
    'bench --recipes lcm-lora on tiny-shapes reports adherence for the baseline and the student',
    { timeout: 300_000 },
    async () => {
      const result = BenchResultSchema.parse(
        await dispatch(ctx.studio.handlers, 'runBenchmark', {
          model: 'tiny-shapes',
          recipes: ['lcm-lora'],
          maxCases: 2,
          repeats: 1,
          warmup: 1,
          stack: false,
        }),
      );
      expect(result.testSet).toBe('shapes');
      const [baseline, lcm] = result.recipes;
      expect(lcm.name).toBe('lcm-lora');
      expect(lcm.status, lcm.error).toBe('ok');
      // Every case's prompt names a shape, so every case is judged, for both.
      for (const r of [baseline, lcm]) {
        expect(r.adherence?.cases).toBe(2);
        expect(r.adherence?.checksPassed).toBeGreaterThan(0);
      }
      // The teacher draws these prompts (0.94 of the 16-prompt grid in docs/benchmarks.md).
      expect(baseline.adherence?.checksPassed).toBeGreaterThanOrEqual(5 / 6);
      // A student never passes silently on pixels it does not keep, and is never the winner.
      expect(lcm.ssim).toBeLessThan(0.85);
      expect(['different-pixels', 'over-optimized', 'degraded']).toContain(lcm.verdict);
      expect(result.recommended).toBeNull();
      if (lcm.verdict === 'different-pixels')
        expect(result.explanation).toMatch(/lcm-lora draws the prompts as well as the baseline/);
      else expect(result.explanation).toMatch(/Rejected for quality: lcm-lora/);

      const detail = RunDetailSchema.parse(
        await dispatch(ctx.studio.handlers, 'getRun', { runId: result.runId }),
      );
      expect(detail.recipes.map((r) => r.adherence)).toEqual([baseline.adherence, lcm.adherence]);

      await expect(
        dispatch(ctx.studio.handlers, 'saveProfile', { runId: result.runId, recipe: 'lcm-lora' }),
      ).rejects.toThrow(/^acknowledgeQuality: "lcm-lora" did not pass the quality check/);
      const saved = await dispatch(ctx.studio.handlers, 'saveProfile', {
        runId: result.runId,
        recipe: 'lcm-lora',
        acknowledgeQuality: true,
      });
      expect(saved).toMatchObject({ recipe: 'lcm-lora', isDefault: true });
      const g = await dispatch(ctx.studio.handlers, 'generate', {
        model: 'tiny-shapes',
        prompt: 'a red circle on a blue background',
        seed: 1,
      });
      expect(g).toMatchObject({ scheduler: 'lcm', steps: 4 });
    },
  );

  it('the CLI refuses --acknowledge-quality without a recipe to save, before any run', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/main/cli.ts', 'bench', '--acknowledge-quality', '--json'],
      { env: { ...process.env, LATENT_STUDIO_HOME: ctx.home }, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      /--acknowledge-quality: name the recipe to save with it, e.g. --save-profile lcm-lora --acknowledge-quality/,
    );
  });
});
