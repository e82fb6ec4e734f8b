import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { z } from 'zod';
import { tempHome } from '../helpers/temp-home';

/**
 * The CLI's JSON contracts, field by field as ../shared/DESIGN.md writes them: `bench --json`
 * (with and without --recipes), `history --json`, `compare --json`. Strict schemas: a field that
 * disappears, changes type or appears unannounced fails here.
 */
const home = tempHome();
afterAll(() => home.cleanup());
const model = resolve('test/fixtures/models/sd15-optimum-float');

function cli(...args: string[]): unknown {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main/cli.ts', ...args], {
    env: { ...process.env, LATENT_STUDIO_HOME: home.dir },
    encoding: 'utf8',
    // Generous: on a busy shared machine a whole wizard run (variants built on demand) takes minutes.
    timeout: 280_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as unknown;
}

// DESIGN: verdicts `does-not-fit` / `no-gain` / `slower` / `over-optimized` / `faster` /
// `recommended`, plus the baseline's own, quality's `degraded`, `failed`, and a distilled recipe's
// `different-pixels` (faster, draws the prompts as well as the baseline, its pixels differ).
const Verdict = z.enum([
  'baseline',
  'recommended',
  'faster',
  'no-gain',
  'slower',
  'degraded',
  'over-optimized',
  'does-not-fit',
  'failed',
  'different-pixels',
]);
const num = z.number().refine(Number.isFinite, 'a finite number');
const share = num.refine((v) => v >= 0 && v <= 1, 'a share between 0 and 1');
const Recipe = z
  .object({
    name: z.string(),
    title: z.string(),
    status: z.enum(['ok', 'failed']),
    error: z.string().optional(),
    latencyMs: z.object({ mean: num, std: num, median: num }).strict().nullable(),
    stagesMs: z.record(z.string(), num).nullable(),
    peakRssMb: num.nullable(),
    peakGpuMb: num.nullable().optional(),
    cpuPercent: num.nullable(),
    ssim: num.nullable(),
    psnr: num.nullable(),
    speedup: num.nullable(),
    verdict: Verdict,
    // Additions the design allows.
    speedupCi: z.tuple([num, num]).nullable().optional(),
    loadMs: num.nullable().optional(),
    firstImageMs: num.nullable().optional(),
    restartLoadMs: num.optional(),
    tier: z.enum(['basic', 'intermediate', 'advanced']).optional(),
    // Prompt adherence where the shapes vocabulary understands the prompts (else null).
    adherence: z
      .object({ allCorrect: share, checksPassed: share, cases: z.number().int().positive() })
      .strict()
      .nullable()
      .optional(),
    contributions: z
      .array(
        z
          .object({ recipe: z.string(), speedupAlone: num.nullable(), share: num.nullable() })
          .strict(),
      )
      .optional(),
    // Whole images (true) or composed from stage timings (false): every ok recipe says which.
    measuredEndToEnd: z.boolean().optional(),
    loadAvg: z.object({ before: num, after: num, cores: z.number().int() }).strict().optional(),
    speedupMethod: z
      .object({ method: z.enum(['pairs', 'repeats', 'cases', 'none']), n: z.number().int() })
      .strict()
      .optional(),
  })
  .strict();
const Bench = z
  .object({
    runId: z.number().int().positive(),
    model: z.string(),
    baseline: z.string(),
    testSet: z.string(),
    recipes: z.array(Recipe).min(1),
    recommended: z.string().nullable(),
    explanation: z.string().min(1),
    skipped: z.array(z.object({ recipe: z.string(), reason: z.string().min(1) }).strict()),
    priority: z.enum(['quality', 'balance', 'speed']),
    settings: z.enum(['model', 'cases']),
    ep: z.string(),
    interleaved: z.boolean(),
    profile: z.string().nullable(),
    // The time budget the plan was fitted to, its prediction and what the run took, in seconds.
    budgetSeconds: num,
    predictedSeconds: num,
    elapsedSeconds: num,
  })
  .strict();

function checkBench(raw: unknown) {
  const b = Bench.parse(raw);
  expect(b.recipes[0]).toMatchObject({ name: b.baseline, verdict: 'baseline', speedup: 1 });
  for (const r of b.recipes) {
    // speedup = baseline mean / recipe mean; interleaved, the baseline runs are those measured
    // alternately with this recipe, so the figure sits inside its own paired interval.
    if (r.status === 'ok' && r.latencyMs && b.recipes[0].latencyMs && !b.interleaved)
      expect(r.speedup).toBeCloseTo(b.recipes[0].latencyMs.mean / r.latencyMs.mean, 6);
    if (r.status === 'ok' && r.speedupCi) {
      expect(r.speedupCi[0]).toBeLessThanOrEqual(r.speedup ?? NaN);
      expect(r.speedupCi[1]).toBeGreaterThanOrEqual(r.speedup ?? NaN);
    }
    if (r.status === 'failed') expect(r.error).toBeTruthy();
    if (r.status === 'ok') expect(typeof r.measuredEndToEnd).toBe('boolean');
  }
  expect(b.budgetSeconds).toBe(15 * 60);
  expect(b.elapsedSeconds).toBeGreaterThan(0);
  if (b.recommended === null) expect(b.explanation).toMatch(/Keep the baseline|did not complete/);
  else expect(b.recipes.find((r) => r.name === b.recommended)?.verdict).toBe('recommended');
  return b;
}

const quick = ['--max-cases', '1', '--repeats', '2', '--warmup', '1', '--json'];

describe('CLI JSON contracts', () => {
  let first = 0;
  let second = 0;

  it('bench --json with --recipes', { timeout: 300_000 }, () => {
    const b = checkBench(
      cli('bench', '--model', model, '--recipes', 'dpm-fast', '--no-interleave', ...quick),
    );
    expect(b.recipes.map((r) => r.name)).toEqual(['baseline', 'dpm-fast']);
    expect(b.interleaved).toBe(false);
    first = b.runId;
  });

  it(
    "bench --json without --recipes runs the wizard's candidates, baseline first",
    {
      timeout: 300_000,
    },
    () => {
      const b = checkBench(cli('bench', '--model', model, '--priority', 'quality', ...quick));
      expect(b.recipes.length).toBeGreaterThanOrEqual(3);
      expect(b.priority).toBe('quality');
      expect(b.interleaved).toBe(true);
      // Start-up with warm caches is measured for the baseline and the optimized-model-cache recipe.
      expect(b.recipes[0].restartLoadMs).toBeGreaterThan(0);
      // Stacks, when any passed, carry their tier and each strategy's contribution.
      for (const r of b.recipes.filter((x) => x.name.startsWith('stack-') && x.status === 'ok')) {
        expect(r.tier).toBeDefined();
        expect(r.contributions?.length).toBeGreaterThanOrEqual(2);
      }
      second = b.runId;
    },
  );

  it('bench --plan-only --json prints the plan and its predicted time, measuring nothing', () => {
    const Plan = z
      .object({
        plan: z
          .object({
            budgetSeconds: num,
            predictedSeconds: num,
            phases: z.array(z.object({ name: z.string(), predictedSeconds: num }).strict()).min(1),
            candidates: z.array(z.string()).min(1),
            cases: z.number().int().positive(),
            repeats: z.number().int().positive(),
            warmup: z.number().int(),
            dropped: z.array(z.object({ recipe: z.string(), reason: z.string() }).strict()),
            untrimmedSeconds: num,
            calibration: z
              .object({
                loadMs: num,
                textEncoderMs: num,
                unetStepMs: num,
                firstStepMs: num,
                vaeMs: num,
                steps: z.number().int(),
              })
              .strict(),
          })
          .strict(),
      })
      .strict();
    const runs = () => (cli('history', '--json') as { runs: unknown[] }).runs.length;
    const before = runs();
    const p = Plan.parse(cli('bench', '--model', model, '--plan-only', '--budget', '5', '--json'));
    expect(p.plan.budgetSeconds).toBe(300);
    expect(p.plan.candidates[0]).toBe('baseline');
    expect(p.plan.phases.map((x) => x.name)).toEqual([
      'calibrate',
      'build',
      'baseline',
      'candidates',
      'stacks',
    ]);
    const sum = p.plan.phases.reduce((a, x) => a + x.predictedSeconds, 0);
    expect(sum).toBeCloseTo(p.plan.predictedSeconds, 6);
    expect(p.plan.calibration.unetStepMs).toBeGreaterThan(0);
    // Nothing was measured or recorded.
    expect(runs()).toBe(before);
  });

  it('history --json lists runs with id and status', () => {
    const h = z
      .object({
        runs: z.array(
          z
            .object({
              id: z.number().int(),
              status: z.enum(['running', 'done', 'failed', 'interrupted', 'cancelled']),
            })
            .passthrough(),
        ),
      })
      .strict()
      .parse(cli('history', '--json'));
    expect(h.runs.map((r) => r.id)).toEqual(expect.arrayContaining([first, second]));
    expect(h.runs.find((r) => r.id === first)?.status).toBe('done');
  });

  it('compare --json: per recipe, latencies, speed-up and memory/SSIM deltas, case by case', () => {
    const c = z
      .object({
        runA: z.literal(first),
        runB: z.literal(second),
        recipes: z.array(
          z
            .object({
              name: z.string(),
              latencyA: num.nullable(),
              latencyB: num.nullable(),
              speedup: num.nullable(),
              memoryDeltaMb: num.nullable(),
              ssimA: num.nullable(),
              ssimB: num.nullable(),
              adherenceA: share.nullable().optional(),
              adherenceB: share.nullable().optional(),
              cases: z.array(
                z
                  .object({
                    caseIndex: z.number().int(),
                    prompt: z.string(),
                    speedup: num.nullable(),
                  })
                  .strict(),
              ),
            })
            .strict(),
        ),
      })
      .strict()
      .parse(cli('compare', String(first), String(second), '--json'));
    const base = c.recipes.find((r) => r.name === 'baseline');
    expect(base?.speedup).toBeCloseTo((base?.latencyA ?? 0) / (base?.latencyB ?? 1), 6);
  });
});
