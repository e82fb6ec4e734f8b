import { describe, expect, it } from 'vitest';
import {
  ADHERENCE_TOLERANCE,
  adheresLikeBaseline,
  caseSpeedup,
  DIFFERENT_PIXELS,
  fitVerdict,
  judgeRecipe,
  loadWarning,
  MIN_SPEEDUP,
  overloaded,
  paretoFront,
  pickWinner,
  speedVerdict,
  summariseAdherence,
  verdictFor,
  type JudgedRecipe,
} from './judge';
import type { CaseRun, RecipeRun } from './measure';
import { BUILTIN_RECIPES, LCM_LORA_RECIPE, RecipeSchema } from './recipes';
import { SHAPES_SET } from './test-sets';

const r = (
  name: string,
  speedup: number | null,
  ci: [number, number] | null,
  ssim: number | null,
  opts: Partial<JudgedRecipe> = {},
): JudgedRecipe => {
  const verdict =
    name === 'baseline'
      ? 'baseline'
      : verdictFor({ isBaseline: false, speedup, ci, ssim, psnr: ssim === null ? null : 30 });
  return {
    name,
    status: 'ok',
    verdict,
    latencyMean: speedup ? 1000 / speedup : null,
    speedup,
    speedupCi: ci,
    peakRssMb: 100,
    ssim,
    psnr: ssim === null ? null : 30,
    ...opts,
  };
};
const base = r('baseline', 1, null, null);

describe('speedVerdict', () => {
  it('is faster only when the interval lies above 1 and the gain reaches the minimum', () => {
    expect(speedVerdict(1.5, [1.2, 1.8])).toBe('faster');
    expect(speedVerdict(1.5, [0.99, 2])).toBe('no-gain');
    expect(speedVerdict(MIN_SPEEDUP - 0.01, [1.01, 1.06])).toBe('no-gain');
    expect(speedVerdict(MIN_SPEEDUP, [1.01, 1.1])).toBe('faster');
    expect(speedVerdict(0.8, [0.7, 0.9])).toBe('slower');
    expect(speedVerdict(0.8, [0.7, 1.01])).toBe('no-gain');
    // Without an interval nothing is claimed, however large the point estimate.
    expect(speedVerdict(3, null)).toBe('no-gain');
  });

  it('judges quality before speed', () => {
    expect(verdictFor({ isBaseline: false, speedup: 3, ci: [2, 4], ssim: 0.7, psnr: 30 })).toBe(
      'over-optimized',
    );
    expect(verdictFor({ isBaseline: true, speedup: 1, ci: null, ssim: null, psnr: null })).toBe(
      'baseline',
    );
  });
});

describe('pickWinner', () => {
  const fastLow = r('fast-low', 3, [2.8, 3.2], 0.86);
  const midMid = r('mid', 2.5, [2.3, 2.7], 0.95);
  const slowHigh = r('slow-high', 1.3, [1.2, 1.4], 0.99);
  const all = [base, fastLow, midMid, slowHigh];

  it('lets the priority decide among the passing candidates', () => {
    expect(pickWinner(all, 'baseline', 'speed').winner).toBe('fast-low');
    expect(pickWinner(all, 'baseline', 'quality').winner).toBe('slow-high');
    // The knee: most of the speed for little of the quality.
    expect(pickWinner(all, 'baseline', 'balance').winner).toBe('mid');
  });

  it('never recommends a candidate whose interval includes 1, however fast its mean', () => {
    const noisy = r('noisy', 1.23, [0.9, 1.6], 0.99);
    expect(noisy.verdict).toBe('no-gain');
    const out = pickWinner([base, noisy], 'baseline', 'speed');
    expect(out.winner).toBeNull();
    expect(out.explanation).toMatch(/^Keep the baseline/);
    expect(out.explanation).toMatch(/noisy \(no-gain, 1\.23x, 95% interval 0\.90-1\.60\)/);
  });

  it('says keep the baseline and why when nothing passes', () => {
    const out = pickWinner(
      [base, r('bad', 3, [2.5, 3.5], 0.5), r('slow', 0.8, [0.7, 0.9], 0.99)],
      'baseline',
      'balance',
    );
    expect(out.winner).toBeNull();
    expect(out.explanation).toMatch(/Keep the baseline/);
    expect(out.explanation).toMatch(/Rejected for quality: bad/);
    expect(out.explanation).toMatch(/slow \(slower/);
  });

  it('never recommends an explanatory recipe', () => {
    const out = pickWinner(
      [base, r('graph-basic', 1.5, [1.4, 1.6], 0.99, { explanatory: true })],
      'baseline',
      'speed',
    );
    expect(out.winner).toBeNull();
  });

  it('breaks near speed ties by peak memory', () => {
    const a = r('a', 2, [1.9, 2.1], 0.95, { peakRssMb: 900 });
    const b = r('b', 1.97, [1.9, 2.1], 0.95, { peakRssMb: 300 });
    const out = pickWinner([base, a, b], 'baseline', 'speed');
    expect(out.winner).toBe('b');
    expect(out.explanation).toMatch(/tied within 3% with a/);
  });

  it('recommends nothing without a baseline', () => {
    const out = pickWinner(
      [{ ...base, status: 'failed', latencyMean: null }, fastLow],
      'baseline',
      'speed',
    );
    expect(out.winner).toBeNull();
    expect(out.explanation).toMatch(/baseline \(baseline\) did not complete/);
  });

  it('keeps only undominated candidates on the Pareto front', () => {
    const dominated = r('dominated', 1.2, [1.1, 1.3], 0.9);
    expect(paretoFront([fastLow, midMid, slowHigh, dominated]).map((x) => x.name)).toEqual([
      'fast-low',
      'mid',
      'slow-high',
    ]);
  });
});

describe('fitVerdict', () => {
  it('says why a variant cannot fit, and lets unknown memory through', () => {
    expect(fitVerdict(1000 * 2 ** 20, 1000, 'this machine')).toMatch(/needs about 1500 MB/);
    expect(fitVerdict(100 * 2 ** 20, 1000, 'this machine')).toBeNull();
    expect(fitVerdict(1000 * 2 ** 20, null, 'the GPU')).toBeNull();
  });
});

/** k of n cases with every check right, as the runner summarises them. */
const adh = (k: number, n = 16) =>
  summariseAdherence(
    Array.from({ length: n }, (_, i) => ({ checks: 3, passed: i < k ? 3 : 2, all: i < k })),
  );

describe('distilled recipes: judged by prompt adherence when their pixels differ', () => {
  const distilled = (o: {
    speedup?: number;
    ci?: [number, number] | null;
    ssim?: number;
    psnr?: number;
    strategy?: string;
    correct?: number | null;
    baseCorrect?: number;
  }) =>
    verdictFor({
      isBaseline: false,
      speedup: o.speedup ?? 5,
      ci: o.ci === undefined ? [4.5, 5.5] : o.ci,
      ssim: o.ssim ?? 0.6,
      psnr: o.psnr ?? 17,
      strategy: o.strategy ?? 'distillation',
      adherence: o.correct === null ? null : adh(o.correct ?? 16),
      baseAdherence: adh(o.baseCorrect ?? 16),
    });

  it('summarises adherence as shares of the understood cases', () => {
    expect(adh(15)).toEqual({ allCorrect: 15 / 16, checksPassed: (15 * 3 + 2) / 48, cases: 16 });
    expect(summariseAdherence([])).toBeNull();
  });

  it('is different-pixels when faster and no worse than the baseline within one case in 16', () => {
    expect(ADHERENCE_TOLERANCE).toBe(1 / 16);
    expect(distilled({})).toBe(DIFFERENT_PIXELS);
    // Exactly one case lost is within the tolerance; two are not.
    expect(distilled({ correct: 15 })).toBe(DIFFERENT_PIXELS);
    expect(distilled({ correct: 14 })).toBe('over-optimized');
    // Shares, not counts: one case lost of two is half of them.
    expect(adheresLikeBaseline(adh(1, 2), adh(2, 2))).toBe(false);
    expect(adheresLikeBaseline(adh(2, 2), adh(2, 2))).toBe(true);
    // Better than the baseline is fine; a degraded (not over-optimized) student likewise.
    expect(distilled({ correct: 16, baseCorrect: 12 })).toBe(DIFFERENT_PIXELS);
    expect(distilled({ ssim: 0.82, psnr: 22 })).toBe(DIFFERENT_PIXELS);
  });

  it('never relabels a student that is not meaningfully faster, or whose adherence is unknown', () => {
    expect(distilled({ ci: [0.9, 1.4], speedup: 1.2 })).toBe('over-optimized');
    expect(distilled({ ci: [0.6, 0.8], speedup: 0.7 })).toBe('over-optimized');
    expect(distilled({ ci: null })).toBe('over-optimized');
    expect(distilled({ speedup: MIN_SPEEDUP - 0.01, ci: [1.01, 1.08] })).toBe('over-optimized');
    expect(distilled({ ssim: 0.82, psnr: 22, ci: [0.9, 1.4] })).toBe('degraded');
    expect(distilled({ correct: null })).toBe('over-optimized');
    expect(distilled({ ssim: NaN })).toBe('over-optimized');
  });

  it('applies to distillation only; one that keeps the pixels is judged like any other', () => {
    expect(distilled({ strategy: 'quantization' })).toBe('over-optimized');
    expect(distilled({ strategy: 'stack' })).toBe('over-optimized');
    expect(distilled({ ssim: 0.9, psnr: 28 })).toBe('faster');
    expect(distilled({ ssim: 0.9, psnr: 28, ci: [0.9, 1.3], speedup: 1.1 })).toBe('no-gain');
    // Just below the pixel thresholds it is no longer `faster`.
    expect(distilled({ ssim: 0.85, psnr: 28 })).toBe(DIFFERENT_PIXELS);
  });

  it('is never the winner; the explanation carries its numbers and how to apply it', () => {
    const baseline = { ...base, adherence: adh(16) };
    const lcm: JudgedRecipe = {
      ...r('lcm-lora', 5.2, [4.8, 5.6], null),
      ssim: 0.612,
      psnr: 17.3,
      adherence: adh(15),
      verdict: DIFFERENT_PIXELS,
    };
    const alone = pickWinner([baseline, lcm], 'baseline', 'speed');
    expect(alone.winner).toBeNull();
    expect(alone.explanation).toMatch(/^Keep the baseline/);
    expect(alone.explanation).toContain(
      'lcm-lora draws the prompts as well as the baseline (every check right in 15/16 cases, baseline 16/16',
    );
    expect(alone.explanation).toMatch(/5\.20x faster \(95% interval 4\.80-5\.60\)/);
    expect(alone.explanation).toMatch(/SSIM 0\.612, PSNR 17\.3 dB/);
    expect(alone.explanation).toMatch(/--save-profile lcm-lora --acknowledge-quality/);
    expect(alone.explanation).not.toMatch(/Rejected for quality/);
    const dpm = r('dpm-fast', 2, [1.8, 2.2], 0.95);
    for (const priority of ['speed', 'balance', 'quality'] as const)
      expect(pickWinner([baseline, lcm, dpm], 'baseline', priority).winner).toBe('dpm-fast');
  });
});

describe('the explanation: interval method and a loaded machine', () => {
  it('says how the interval was made where it is known', () => {
    const paired = r('paired', 2, [1.8, 2.2], 0.95, { speedMethod: { method: 'pairs', n: 15 } });
    const out = pickWinner([base, paired], 'baseline', 'speed');
    expect(out.winner).toBe('paired');
    expect(out.explanation).toMatch(/2\.00x \(95% interval 1\.80-2\.20, over 15 adjacent pairs\)/);
  });

  it('warns when the load average was above 1.5x the cores, at the end, and not at it', () => {
    // The bench's own engine accounts for about one thread per core.
    expect(overloaded({ before: 2, after: 2.6, cores: 2 })).toBe(false);
    expect(overloaded({ before: 3, after: 3, cores: 2 })).toBe(false);
    expect(overloaded({ before: 0.5, after: 3.1, cores: 2 })).toBe(true);
    expect(overloaded(undefined)).toBe(false);
    const busy = r('busy', 1.02, [0.9, 1.15], 0.95, {
      loadAvg: { before: 3, after: 6.5, cores: 4 },
    });
    const calm = r('calm', 1.5, [1.3, 1.7], 0.95, { loadAvg: { before: 1, after: 3, cores: 4 } });
    expect(loadWarning([base, calm])).toBeNull();
    const out = pickWinner([base, busy, calm], 'baseline', 'speed');
    expect(out.winner).toBe('calm');
    expect(out.explanation).toMatch(
      /Warning: other programs kept the machine busy while busy ran \(load average 3\.0 -> 6\.5 on 4 cores\): too noisy to decide on; close other programs and run the benchmark again\.$/,
    );
    expect(out.explanation).not.toMatch(/calm ran/);
  });
});

describe('caseSpeedup', () => {
  const c = (latencies: number[], referenceLatencies?: number[], caseIndex = 0): CaseRun => ({
    caseIndex,
    testCase: SHAPES_SET.cases[caseIndex],
    steps: 10,
    guidance: 7.5,
    latencies,
    stages: {},
    png: new Uint8Array(),
    ...(referenceLatencies ? { referenceLatencies } : {}),
  });

  it('pairs interleaved runs one to one, and falls back to the baseline row without them', () => {
    const baseRow = [c([200, 600, 300]), c([400, 1200, 600], undefined, 1)];
    const interleaved = caseSpeedup(
      [c([100, 290, 152], [200, 600, 300]), c([205, 600, 300], [400, 1200, 610], 1)],
      baseRow,
    );
    expect(interleaved).toMatchObject({ method: 'pairs', n: 6 });
    expect(interleaved.ci?.[0]).toBeGreaterThan(1.9);
    const alone = caseSpeedup([c([100, 290, 152]), c([205, 600, 300], undefined, 1)], baseRow);
    expect(alone.method).toBe('repeats');
    expect(alone.ci?.[0]).toBeLessThan(1.5);
  });
});

describe('judgeRecipe: adherence carried into the outcome', () => {
  const run: RecipeRun = {
    modelDir: '/m',
    peakRssMb: 300,
    idleRssMb: 80,
    peakGpuMb: null,
    cpuPercent: 90,
    loadMs: 50,
    firstImageMs: 200,
  };
  const cases = (ms: number): CaseRun[] =>
    SHAPES_SET.cases.slice(0, 4).map((testCase, caseIndex) => ({
      caseIndex,
      testCase,
      steps: 25,
      guidance: 7.5,
      latencies: [ms, ms * 1.01, ms * 0.99],
      stages: { unet: ms * 0.8 },
      png: new Uint8Array(),
    }));
  const baseCases = cases(100);
  const right = { checks: 3, passed: 3, all: true };
  const wrong = { checks: 3, passed: 1, all: false };
  const baseline = judgeRecipe({
    recipe: BUILTIN_RECIPES[0],
    run,
    cases: baseCases,
    quality: [],
    adherence: [right, right, right, right],
    baseCases: null,
    alone: new Map(),
  });
  const judge = (
    recipe = LCM_LORA_RECIPE,
    adherence = [right, right, right, right],
    pixels = { ssim: 0.6, psnr: 16 },
  ) =>
    judgeRecipe({
      recipe,
      run,
      cases: cases(20),
      quality: baseCases.map(() => pixels),
      adherence,
      baseAdherence: baseline.adherence,
      baseCases,
      alone: new Map(),
    });

  it('gives the baseline its own adherence, and the student its verdict from both', () => {
    expect(baseline).toMatchObject({
      verdict: 'baseline',
      adherence: { allCorrect: 1, checksPassed: 1, cases: 4 },
    });
    const lcm = judge();
    expect(lcm.speedup).toBeGreaterThan(4);
    expect(lcm.verdict).toBe(DIFFERENT_PIXELS);
    // One case lost in four is more than one in sixteen.
    const worse = judge(LCM_LORA_RECIPE, [right, right, right, wrong]);
    expect(worse.adherence).toEqual({ allCorrect: 0.75, checksPassed: 10 / 12, cases: 4 });
    expect(worse.verdict).toBe('over-optimized');
  });

  it('judges a distilled recipe that keeps the pixels, and other strategies, as before', () => {
    const keeps = RecipeSchema.parse({ ...LCM_LORA_RECIPE, name: 'distilled-steps' });
    expect(judge(keeps, undefined, { ssim: 0.95, psnr: 30 }).verdict).toBe('faster');
    const other = BUILTIN_RECIPES.find((x) => x.strategy === 'scheduler');
    expect(other).toBeDefined();
    if (other) expect(judge(other).verdict).toBe('over-optimized');
    // No understood prompt: no adherence, and a student cannot be judged by it.
    expect(judge(LCM_LORA_RECIPE, []).adherence).toBeNull();
    expect(judge(LCM_LORA_RECIPE, []).verdict).toBe('over-optimized');
  });
});
