import { afterAll, describe, expect, it } from 'vitest';
import { BenchResultSchema, RunDetailSchema } from '../../src/shared/bench-schemas';
import { dispatch } from '../../src/main/services/dispatch';
import { SHAPES_SET } from '../../src/main/bench/test-sets';
import { pairedSpeedup } from '../../src/main/bench/stats';
import { engineTurns, inAbbaOrder } from '../../src/main/bench/measure';
import { compareImages, PSNR_ACCEPTABLE_DB, SSIM_ACCEPTABLE } from '../../src/main/bench/quality';
import { createStudio, type Studio } from '../../src/main/services/studio';
import { useTempStudio } from '../helpers/temp-studio';

/**
 * The wizard's promise, measured where the person uses it: on tiny-shapes, plain `generate`, then a
 * benchmark whose recipe is saved as a profile, then `generate` with that profile. What the
 * benchmark printed and what generate delivers must agree within the noise.
 *
 * How this stays robust on a busy machine: no absolute timing threshold. Both sides carry a 95%
 * interval from their own repeats (the same paired estimator), and the test asks only that the two
 * intervals overlap: noise widens both and makes overlap easier, while a systematic mismatch
 * (the old bug: 16 validated steps stored against a default of 25, 2.25x printed, 1.41x delivered)
 * separates them. The plain and profiled generations alternate, so a load change on the machine
 * hits both sides alike; the profiled ones run in a second studio on the same home (its own engine),
 * so each side keeps its model resident as a person's studio does: alternating two models in one
 * engine reloads the sessions at every call, and freshly loaded sessions measured faster than
 * resident ones, which inflated the delivered figure (2.92x against 2.20x printed, once). The two
 * sides take turns as the benchmark's engines do (ABBA, a settle pause at each switch), so neither
 * runs while the other's ORT threads still spin. The settings generate applies are also checked
 * exactly against the ones the benchmark measured, which catches the same bug without any timing.
 */
const ctx = useTempStudio();
const cases = SHAPES_SET.cases.slice(0, 2);
const REPEATS = 3;

let profiledStudio: Studio | undefined;
afterAll(async () => {
  await profiledStudio?.close();
});
const gen = (c: (typeof cases)[number], profile?: string) =>
  dispatch((profile ? profiledStudio : undefined)?.handlers ?? ctx.studio.handlers, 'generate', {
    model: 'tiny-shapes',
    prompt: c.prompt,
    seed: c.seed,
    profile,
  });
type Generated = Awaited<ReturnType<typeof gen>>;
// Per image, session creation left out (the benchmark's warm-ups leave it out too).
const ms = (g: Generated) => g.timings.total - (g.timings.load ?? 0);
const png = (g: Generated) =>
  Buffer.from(g.images[0].dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64');

/**
 * Plain generate, a benchmark of `recipe` saved as profile `name`, then plain and profiled
 * generations alternating. Checks that generate applies exactly the measured settings and that
 * the delivered speed-up's interval overlaps the printed one; returns both sides' images.
 */
async function promiseHolds(recipe: string, name: string, scheduler: string) {
  const plain = await gen(cases[0]); // loads the sessions
  const bench = BenchResultSchema.parse(
    await dispatch(ctx.studio.handlers, 'runBenchmark', {
      model: 'tiny-shapes',
      recipes: [recipe],
      maxCases: cases.length,
      repeats: REPEATS,
      warmup: 1,
      stack: false,
    }),
  );
  expect(bench.settings).toBe('model');
  const printed = bench.recipes.find((r) => r.name === recipe);
  expect(printed?.status).toBe('ok');
  const printedCi = printed?.speedupCi;
  if (!printedCi) throw new Error('the benchmark printed no interval');
  await dispatch(ctx.studio.handlers, 'saveProfile', {
    runId: bench.runId,
    recipe,
    name,
    makeDefault: false,
    // The promise is about what generate delivers, whatever the verdict; a recipe whose quality
    // failed is saved knowingly, as "Apply anyway" does.
    acknowledgeQuality: true,
  });

  // Exactly what was measured: the benchmark's steps, scheduler and guidance for each case.
  const detail = RunDetailSchema.parse(
    await dispatch(ctx.studio.handlers, 'getRun', { runId: bench.runId }),
  );
  const measured = detail.recipes.find((r) => r.name === recipe)?.cases ?? [];
  const baseline = detail.recipes.find((r) => r.name === 'baseline')?.cases ?? [];
  expect(baseline[0].steps).toBe(plain.steps); // the baseline is plain generate
  expect(baseline[0].guidance).toBe(plain.guidance);
  profiledStudio ??= createStudio({ home: ctx.home });
  await gen(cases[0], name); // warm-up on the profiled side too

  const before: number[][] = cases.map(() => []);
  const after: number[][] = cases.map(() => []);
  const images: { plain: Buffer; profiled: Buffer }[] = [];
  const turn = engineTurns(); // the benchmark's own turn-taking: ABBA, a settle at each switch
  const measure = async (rounds: number, from: number): Promise<void> => {
    for (let r = from; r < from + rounds; r++) {
      for (const [i, c] of cases.entries()) {
        let p: Generated | undefined;
        let g: Generated | undefined;
        await inAbbaOrder(
          r,
          async () => {
            await turn('plain');
            p = await gen(c);
            before[i].push(ms(p));
          },
          async () => {
            await turn('profiled');
            g = await gen(c, name);
          },
        );
        if (!p || !g) throw new Error('a side did not run');
        expect(g.steps).toBe(measured[i].steps);
        expect(g.guidance).toBe(measured[i].guidance);
        expect(g.scheduler).toBe(scheduler);
        after[i].push(ms(g));
        if (r === 0) images.push({ plain: png(p), profiled: png(g) });
      }
    }
  };
  // Run r of each side was made right beside the other's (ABBA): truly paired, as in the bench.
  const deliveredNow = () =>
    pairedSpeedup(cases.map((_, i) => ({ base: before[i], candidate: after[i], paired: true })));
  const overlaps = (ci: [number, number] | null): boolean =>
    ci !== null && ci[0] <= printedCi[1] && printedCi[0] <= ci[1];
  await measure(REPEATS, 0);
  // `npm test` runs two test files at once on two cores: a burst of the other file's work can land
  // on a few runs of one side. Where the first pairs disagree with the print, as many pairs again
  // decide (all pairs pooled), as the bench's adaptive repeats would.
  if (!overlaps(deliveredNow().ci)) await measure(REPEATS, REPEATS);
  const delivered = deliveredNow();
  const deliveredCi = delivered.ci;
  if (!deliveredCi) throw new Error('no interval for the delivered speed-up');
  const report = `printed ${printed?.speedup?.toFixed(2)}x [${printedCi.map((v) => v.toFixed(2)).join('-')}], delivered ${delivered.speedup.toFixed(2)}x [${deliveredCi.map((v) => v.toFixed(2)).join('-')}] over ${before[0].length} pairs a case`;
  // The two intervals overlap: the difference is within the noise.
  expect(overlaps(deliveredCi), report).toBe(true);
  return { printed, images };
}

describe('a saved profile delivers what the wizard printed', () => {
  it(
    'generate after bench --save-profile: same settings, speed-up within the interval',
    { timeout: 300_000 },
    async () => {
      await promiseHolds('dpm-fast', 'promise', 'dpm++2m-karras');
    },
  );

  it(
    'the step-distilled tier: generate delivers the pictures the wizard judged (its SSIM/PSNR against plain generate)',
    { timeout: 300_000 },
    async () => {
      const { printed, images } = await promiseHolds('distilled-steps', 'distilled', 'ddim');
      // The wizard judged the student by pixels (worst case over the cases), not by adherence.
      expect(printed?.ssim).not.toBeNull();
      expect(printed?.psnr).not.toBeNull();
      // What the person gets against the images they had before is what the wizard printed: the
      // worst case over the same prompts and seeds, up to float noise between two engines.
      const delivered = images.map(({ plain, profiled }) => compareImages(plain, profiled));
      const worstSsim = Math.min(...delivered.map((q) => q.ssim));
      const worstPsnr = Math.min(...delivered.map((q) => q.psnr));
      expect(Math.abs(worstSsim - (printed?.ssim ?? NaN))).toBeLessThan(0.01);
      expect(Math.abs(worstPsnr - (printed?.psnr ?? NaN))).toBeLessThan(0.5);
      // And the printed verdict follows the classic thresholds from those figures.
      const passes = worstSsim > SSIM_ACCEPTABLE && worstPsnr > PSNR_ACCEPTABLE_DB;
      expect(['recommended', 'faster', 'no-gain', 'slower'].includes(printed?.verdict ?? '')).toBe(
        passes,
      );
    },
  );
});
