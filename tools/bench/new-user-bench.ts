import { cpus, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createStudio } from '../../src/main/services/studio';
import { dispatch } from '../../src/main/services/dispatch';
import { BenchResultSchema } from '../../src/shared/bench-schemas';
import { SHAPES_SET } from '../../src/main/bench/test-sets';
import { pairedSpeedup } from '../../src/main/bench/stats';
import { compareImages } from '../../src/main/bench/quality';
import { engineTurns, inAbbaOrder } from '../../src/main/bench/measure';
import { arg } from './bench-util';

/**
 * `npx tsx tools/bench/new-user-bench.ts [--repeats 5] [--bench-repeats 3] [--priority balance]`:
 * issue 9's "done when", end to end as a new user does it, in a fresh studio home:
 *   1. plain `generate` on tiny-shapes for the five `shapes` prompts (the images before);
 *   2. `bench` with no recipes (the wizard's own candidates for this machine and priority, stacks
 *      included), then `--save-profile` of what it recommends, as the model's default profile;
 *   3. the same `generate` commands again with the profile (saved under a name rather than as
 *      the default, so plain and profiled generations can alternate; the profiled ones run in a
 *      second studio on the same home, so each side keeps its model resident).
 * --apply-anyway RECIPE: when the wizard keeps the baseline, apply RECIPE knowingly and go on.
 * Prints the speed-up the wizard printed (with its 95% interval), the one generate delivered (plain
 * and profiled generations alternate, repeats per prompt, the same paired estimator), and SSIM/PSNR
 * of every profiled image against the plain image of the same prompt and seed (worst prompt
 * first, as the wizard judges). Timings leave session creation out on both sides.
 */
const repeats = Number(arg('repeats', '5'));
const benchRepeats = Number(arg('bench-repeats', '3'));
const priority = arg('priority', 'balance');
// With no recommendation, go on with this candidate applied knowingly (as "Apply anyway" does).
const applyAnyway = arg('apply-anyway', '');
const home = mkdtempSync(join(tmpdir(), 'ls-new-user-'));
const studio = createStudio({ home });
const cases = SHAPES_SET.cases;

// The profiled side runs in a second studio on the same home (its own engine process), so each
// side keeps its own model resident as a person's studio does. Alternating two models in one
// engine would reload the sessions at every call, and a freshly loaded session measured faster
// than a resident one here, which made the delivered figure look better than it is.
let profiledStudio: ReturnType<typeof createStudio> | undefined;
const gen = (c: (typeof cases)[number], profile?: string) =>
  dispatch((profile ? profiledStudio : undefined)?.handlers ?? studio.handlers, 'generate', {
    model: 'tiny-shapes',
    prompt: c.prompt,
    seed: c.seed,
    profile,
  });
const png = (g: Awaited<ReturnType<typeof gen>>) =>
  Buffer.from(g.images[0].dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64');
const ms = (g: Awaited<ReturnType<typeof gen>>) => g.timings.total - (g.timings.load ?? 0);

try {
  await gen(cases[0]); // loads the sessions, as the person's first image does
  const plainImages: Buffer[] = [];
  for (const c of cases) plainImages.push(png(await gen(c)));

  const benchStart = performance.now();
  const bench = BenchResultSchema.parse(
    await dispatch(studio.handlers, 'runBenchmark', {
      model: 'tiny-shapes',
      repeats: benchRepeats,
      priority,
    }),
  );
  const benchMinutes = (performance.now() - benchStart) / 60_000;
  const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;
  const candidates = bench.recipes.map((r) => ({
    name: r.name,
    verdict: r.verdict,
    speedup: r.speedup === null ? null : round(r.speedup),
    ci: r.speedupCi?.map((v) => round(v)),
    ssim: r.ssim === null ? null : round(r.ssim, 3),
    psnr: r.psnr === null ? null : round(r.psnr, 1),
    adherence: r.adherence
      ? `${Math.round(r.adherence.allCorrect * r.adherence.cases)}/${r.adherence.cases}`
      : null,
  }));
  // No recommendation: the person may still apply a candidate knowingly (Apply anyway).
  const chosen = bench.recommended ?? (applyAnyway || null);
  const winner = bench.recipes.find((r) => r.name === chosen);
  if (!chosen || !winner) {
    console.log(
      JSON.stringify(
        { recommended: null, explanation: bench.explanation, candidates, skipped: bench.skipped },
        null,
        1,
      ),
    );
    process.exit(0);
  }
  await dispatch(studio.handlers, 'saveProfile', {
    runId: bench.runId,
    recipe: chosen,
    acknowledgeQuality: chosen !== bench.recommended,
    name: 'wizard',
    // Not the default here only so that the plain side below can still run without it: the
    // profiled side names it, which applies exactly what a default profile applies.
    makeDefault: false,
  });

  profiledStudio = createStudio({ home });
  const first = await gen(cases[0], 'wizard'); // the profile's variant and sessions load here
  const before: number[][] = cases.map(() => []);
  const after: number[][] = cases.map(() => []);
  const quality: { prompt: string; ssim: number; psnr: number }[] = [];
  // Plain and profiled take turns in ABBA order with the bench's settle pause at each switch, so
  // neither side runs while the other's ORT threads are still spinning.
  const turn = engineTurns();
  for (let r = 0; r < repeats; r++) {
    for (const [i, c] of cases.entries()) {
      let profiled: Awaited<ReturnType<typeof gen>> | undefined;
      await inAbbaOrder(
        r,
        async () => {
          await turn('plain');
          before[i].push(ms(await gen(c)));
        },
        async () => {
          await turn('profiled');
          profiled = await gen(c, 'wizard');
          after[i].push(ms(profiled));
        },
      );
      if (!profiled) throw new Error('the profiled side did not run');
      if (r === 0) {
        const q = compareImages(plainImages[i], png(profiled));
        quality.push({ prompt: c.prompt, ssim: q.ssim, psnr: q.psnr });
      }
    }
  }
  const delivered = pairedSpeedup(cases.map((_, i) => ({ base: before[i], candidate: after[i] })));
  console.log(
    JSON.stringify(
      {
        cpu: cpus()[0]?.model,
        cores: cpus().length,
        priority,
        benchMinutes: round(benchMinutes, 1),
        recommended: bench.recommended,
        applied: chosen,
        explanation: bench.explanation,
        candidates,
        skipped: bench.skipped,
        printed: { speedup: winner.speedup, ci: winner.speedupCi },
        delivered: { speedup: round(delivered.speedup), ci: delivered.ci?.map((v) => round(v)) },
        profileApplied: {
          steps: first.steps,
          scheduler: first.scheduler,
          guidance: first.guidance,
        },
        quality: quality.sort((a, b) => a.psnr - b.psnr),
      },
      null,
      1,
    ),
  );
} finally {
  await profiledStudio?.close();
  await studio.close();
  rmSync(home, { recursive: true, force: true });
}
