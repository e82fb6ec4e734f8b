import type { Priority, RecipeAdherence, RecipeOutcome } from '../../shared/bench-schemas';
import { StudioError } from '../../shared/errors';
import type { CaseRun, LoadAvg, RecipeRun } from './measure';
import type { CaseAdherence } from '../workers/quality-worker';
import { adherenceSummary } from './adherence';
import { PSNR_ACCEPTABLE_DB, SSIM_ACCEPTABLE, qualityVerdict } from './quality';
import { qualityClient, type QualityClient } from './quality-client';
import type { Recipe } from './recipes';
import { pairedSpeedup, stats, type SpeedupEstimate } from './stats';
import { contributions } from './tiers';
import { LOADED_FACTOR } from './diagnosis';

/**
 * Judge: turns measured figures into verdicts and picks the winner. Pure functions over numbers,
 * so every rule is tested without running a model.
 */

/** Ours: a gain under 5% is not worth changing someone's settings, even when it is real. */
export const MIN_SPEEDUP = 1.05;
/** Latencies within this fraction count as a tie, broken by peak memory. */
export const TIE = 0.03;

/** Ours: weights on disk times this is what a session needs at least (ORT keeps an optimized copy while it builds). */
export const FIT_WEIGHTS_FACTOR = 1.5;

/**
 * Whether a variant of `modelBytes` bytes can fit in `availableMb` (free RAM for the CPU provider,
 * VRAM for a GPU one); the reason when it cannot. Unknown memory (null) is assumed to fit.
 */
export function fitVerdict(
  modelBytes: number,
  availableMb: number | null,
  where: string,
): string | null {
  const needMb = (modelBytes / 2 ** 20) * FIT_WEIGHTS_FACTOR;
  if (availableMb === null || needMb <= availableMb) return null;
  return `needs about ${needMb.toFixed(0)} MB (${FIT_WEIGHTS_FACTOR}x its ${(modelBytes / 2 ** 20).toFixed(0)} MB of weights) but ${where} has ${availableMb.toFixed(0)} MB free`;
}

export type SpeedVerdict = 'faster' | 'no-gain' | 'slower';

/**
 * The verdict of a distilled recipe that fails the pixel comparison but is meaningfully faster
 * and draws the prompts as well as the baseline: never picked automatically, applied knowingly.
 */
export const DIFFERENT_PIXELS = 'different-pixels';

/**
 * Ours: a distilled recipe draws the prompts "as well as the baseline" when its share of images
 * with every check right (shape, colour, background) is at most this much below the baseline's:
 * one case in 16 (the size of the shapes grid), since a single borderline detection at 64 px (a
 * fat star read as a circle) should not decide the tier, while two lost cases in 16 are a pattern.
 */
export const ADHERENCE_TOLERANCE = 1 / 16;

/** Adherence over a recipe's cases (null where no prompt was understood). */
export function summariseAdherence(cases: readonly CaseAdherence[]): RecipeAdherence | null {
  if (cases.length === 0) return null;
  const s = adherenceSummary(cases);
  return { allCorrect: s.allCorrect, checksPassed: s.checksPassed, cases: s.images };
}

/** Whether `a` loses at most ADHERENCE_TOLERANCE of fully correct cases against the baseline. */
export function adheresLikeBaseline(
  a: RecipeAdherence | null | undefined,
  base: RecipeAdherence | null | undefined,
): boolean {
  if (!a || !base) return false;
  // A loss of exactly the tolerance passes ("at most"); the epsilon absorbs float rounding of k/n.
  return base.allCorrect - a.allCorrect <= ADHERENCE_TOLERANCE + 1e-9;
}

/**
 * Faster only when the paired interval lies above 1 and the gain reaches MIN_SPEEDUP; slower only
 * when it lies below 1; anything else (including no interval at all) is no gain.
 */
export function speedVerdict(speedup: number, ci: [number, number] | null): SpeedVerdict {
  if (ci && ci[0] > 1 && speedup >= MIN_SPEEDUP) return 'faster';
  if (ci && ci[1] < 1) return 'slower';
  return 'no-gain';
}

/**
 * A candidate's verdict: quality first (a fast broken image is not a gain), then speed. One
 * exception, for distilled students only: they draw their own pixels by design, so one that fails
 * the pixel comparison yet is `faster` and draws the prompts as well as the baseline (adherence
 * within ADHERENCE_TOLERANCE) is `different-pixels` rather than rejected. A distilled recipe that
 * passes SSIM/PSNR is judged like any other; one that is not faster keeps its quality verdict.
 */
export function verdictFor(m: {
  isBaseline: boolean;
  speedup: number | null;
  ci: [number, number] | null;
  ssim: number | null;
  psnr: number | null;
  strategy?: string;
  adherence?: RecipeAdherence | null;
  baseAdherence?: RecipeAdherence | null;
}): string {
  if (m.isBaseline) return 'baseline';
  if (m.ssim === null || m.psnr === null || m.speedup === null) return 'unmeasured';
  const quality = qualityVerdict(m.ssim, m.psnr);
  const speed = speedVerdict(m.speedup, m.ci);
  if (quality === 'acceptable') return speed;
  if (
    m.strategy === 'distillation' &&
    speed === 'faster' &&
    // NaN figures mean a broken comparison, not a different drawing.
    Number.isFinite(m.ssim) &&
    Number.isFinite(m.psnr) &&
    adheresLikeBaseline(m.adherence, m.baseAdherence)
  )
    return DIFFERENT_PIXELS;
  return quality;
}

/** "15/16" cases with every check right. */
export const adherenceText = (a: RecipeAdherence | null | undefined): string =>
  a ? `${Math.round(a.allCorrect * a.cases)}/${a.cases}` : '?';

export interface JudgedRecipe {
  name: string;
  status: 'ok' | 'failed';
  verdict: string;
  latencyMean: number | null;
  speedup: number | null;
  speedupCi: [number, number] | null;
  peakRssMb: number | null;
  ssim: number | null;
  psnr: number | null;
  error?: string | null;
  /** Shown to explain a figure, never recommended. */
  explanatory?: boolean;
  adherence?: RecipeAdherence | null;
  /** How the interval was computed and on how many ratios (`pairedSpeedup`), where known. */
  speedMethod?: { method: SpeedupEstimate['method']; n: number };
  /** The machine's 1-minute load average around the recipe's runs, where measured. */
  loadAvg?: LoadAvg;
}

/** Whether other programs loaded the machine while a recipe was measured (see LOADED_FACTOR). */
export function overloaded(load: LoadAvg | undefined): boolean {
  return load !== undefined && Math.max(load.before, load.after) > LOADED_FACTOR * load.cores;
}

/** "load average 3.1 -> 5.2 on 4 cores". */
export const loadText = (load: LoadAvg): string =>
  `load average ${load.before.toFixed(1)} -> ${load.after.toFixed(1)} on ${load.cores} cores`;

/** The loaded-machine warning of a run's explanation, or null when no recipe ran loaded. */
export function loadWarning(results: readonly JudgedRecipe[]): string | null {
  const loaded = results.filter((r) => overloaded(r.loadAvg));
  if (loaded.length === 0) return null;
  return `Warning: other programs kept the machine busy while ${loaded.map((r) => `${r.name} ran (${loadText(r.loadAvg as LoadAvg)})`).join('; ')}: too noisy to decide on; close other programs and run the benchmark again.`;
}

const x2 = (v: number | null | undefined): string => (v == null ? '?' : `${v.toFixed(2)}x`);
const ciText = (ci: [number, number] | null, how?: JudgedRecipe['speedMethod']): string =>
  ci
    ? `95% interval ${ci[0].toFixed(2)}-${ci[1].toFixed(2)}${how ? `, ${METHOD_TEXT[how.method](how.n)}` : ''}`
    : 'no interval: too few runs';

/** How each interval method reads in an explanation. */
const METHOD_TEXT: Record<SpeedupEstimate['method'], (n: number) => string> = {
  pairs: (n) => `over ${n} adjacent pairs`,
  repeats: (n) => `from the repeats of ${n} cases`,
  cases: (n) => `over ${n} cases`,
  none: () => 'no interval',
};

/**
 * Why a `different-pixels` recipe is shown and not picked, with its numbers: speed-up and
 * interval, adherence against the baseline's, and the pixel figures that failed.
 */
export function differentPixelsNote(r: JudgedRecipe, base: JudgedRecipe): string {
  return `${r.name} draws the prompts as well as the baseline (every check right in ${adherenceText(r.adherence)} cases, baseline ${adherenceText(base.adherence)}; at most ${ADHERENCE_TOLERANCE * 16} case in 16 may be lost) and is ${x2(r.speedup)} faster (${ciText(r.speedupCi)}), but its pixels differ from the baseline's (SSIM ${r.ssim?.toFixed(3) ?? '?'}, PSNR ${r.psnr?.toFixed(1) ?? '?'} dB; thresholds SSIM > ${SSIM_ACCEPTABLE}, PSNR > ${PSNR_ACCEPTABLE_DB} dB), so it is never recommended automatically: apply it knowingly (Apply anyway, or bench --save-profile ${r.name} --acknowledge-quality).`;
}

/** The knee of the speed/quality Pareto front (see pickWinner). */
function knee(front: JudgedRecipe[]): JudgedRecipe {
  const sp = front.map((r) => r.speedup as number);
  const q = front.map((r) => r.ssim as number);
  const norm = (v: number, all: number[]) => {
    const lo = Math.min(...all);
    const hi = Math.max(...all);
    return hi > lo ? (v - lo) / (hi - lo) : 1;
  };
  // Normalised, the front runs from (0, 1) (best quality) to (1, 0) (fastest); the point farthest
  // from that chord maximises x + y. Ties go to the faster.
  return [...front].sort(
    (a, b) =>
      norm(b.speedup as number, sp) +
        norm(b.ssim as number, q) -
        (norm(a.speedup as number, sp) + norm(a.ssim as number, q)) ||
      (b.speedup as number) - (a.speedup as number),
  )[0];
}

/** Candidates no other candidate beats on both speed-up and SSIM. */
export function paretoFront(rs: JudgedRecipe[]): JudgedRecipe[] {
  const s = (r: JudgedRecipe) => r.speedup as number;
  const q = (r: JudgedRecipe) => r.ssim as number;
  return rs.filter(
    (r) => !rs.some((o) => o !== r && s(o) >= s(r) && q(o) >= q(r) && (s(o) > s(r) || q(o) > q(r))),
  );
}

/**
 * The winner among candidates whose verdict is `faster` (quality acceptable, interval above 1):
 * `speed` takes the fastest (near ties by lower peak memory), `quality` the best SSIM, `balance`
 * the knee of the speed/quality Pareto front. No passing candidate: no winner, keep the baseline.
 */
export function pickWinner(
  results: JudgedRecipe[],
  baseline: string,
  priority: Priority,
): { winner: string | null; explanation: string } {
  const base = results.find((r) => r.name === baseline);
  if (!base || base.status !== 'ok' || base.latencyMean === null) {
    return {
      winner: null,
      explanation: `The baseline (${baseline}) did not complete, so nothing could be compared against it.`,
    };
  }
  const candidates = results.filter((r) => r.name !== baseline);
  const passing = candidates.filter((r) => r.verdict === 'faster' && !r.explanatory);
  const parts: string[] = [];
  let winner: JudgedRecipe | undefined;
  if (passing.length > 0) {
    if (priority === 'quality') {
      winner = [...passing].sort(
        (a, b) => (b.ssim ?? 0) - (a.ssim ?? 0) || (b.speedup ?? 0) - (a.speedup ?? 0),
      )[0];
    } else if (priority === 'balance') {
      winner = knee(paretoFront(passing));
    } else {
      const sorted = [...passing].sort((a, b) => (b.speedup ?? 0) - (a.speedup ?? 0));
      const ties = sorted.filter((r) => (r.speedup ?? 0) >= (sorted[0].speedup ?? 0) * (1 - TIE));
      winner = ties.sort((a, b) => (a.peakRssMb ?? Infinity) - (b.peakRssMb ?? Infinity))[0];
      if (ties.length > 1)
        parts.push(
          `It tied within ${TIE * 100}% with ${ties
            .filter((t) => t !== winner)
            .map((t) => t.name)
            .join(', ')} and uses the least peak memory of them.`,
        );
    }
    const why = {
      quality: 'the best SSIM among the candidates that are meaningfully faster',
      balance: 'the knee of the speed/quality trade-off among the candidates that passed',
      speed: 'the fastest candidate that passed',
    }[priority];
    parts.unshift(
      `${winner.name} is recommended (priority ${priority}: ${why}): ${winner.latencyMean?.toFixed(0)} ms per image against ${((winner.latencyMean ?? 0) * (winner.speedup ?? 1)).toFixed(0)} ms for the baseline on the same prompts, seeds and steps (measured alongside it when interleaved), ${x2(winner.speedup)} (${ciText(winner.speedupCi, winner.speedMethod)}), with SSIM ${winner.ssim?.toFixed(3)} and PSNR ${winner.psnr?.toFixed(1)} dB against the baseline images (thresholds: SSIM > ${SSIM_ACCEPTABLE}, PSNR > ${PSNR_ACCEPTABLE_DB} dB).`,
    );
    const others = passing.filter((r) => r !== winner);
    if (others.length > 0)
      parts.push(
        `Also faster: ${others.map((r) => `${r.name} (${x2(r.speedup)}, SSIM ${r.ssim?.toFixed(3)})`).join(', ')}.`,
      );
  } else {
    parts.push(
      `Keep the baseline (${base.latencyMean.toFixed(0)} ms per image): no candidate was faster beyond the noise (95% interval of the paired speed-up above 1 and a gain of at least ${Math.round((MIN_SPEEDUP - 1) * 100)}%) with acceptable quality.`,
    );
  }
  const list = (verdicts: string[]) => candidates.filter((r) => verdicts.includes(r.verdict));
  const noGain = list(['no-gain', 'slower']);
  if (noGain.length > 0)
    parts.push(
      `Not faster: ${noGain.map((r) => `${r.name} (${r.verdict}, ${x2(r.speedup)}, ${ciText(r.speedupCi, r.speedMethod)})`).join('; ')}.`,
    );
  for (const r of list([DIFFERENT_PIXELS])) parts.push(differentPixelsNote(r, base));
  const rejected = list(['degraded', 'over-optimized']);
  if (rejected.length > 0)
    parts.push(
      `Rejected for quality: ${rejected.map((r) => `${r.name} (SSIM ${r.ssim?.toFixed(3) ?? '?'}, PSNR ${r.psnr?.toFixed(1) ?? '?'} dB, ${x2(r.speedup)})`).join(', ')}.`,
    );
  const explained = candidates.filter((r) => r.explanatory && r.verdict === 'faster');
  if (explained.length > 0)
    parts.push(`${explained.map((r) => r.name).join(', ')}: shown to explain, never recommended.`);
  const failed = candidates.filter((r) => r.status === 'failed');
  if (failed.length > 0)
    parts.push(
      `Failed: ${failed.map((r) => `${r.name} (${r.verdict === 'does-not-fit' ? 'does not fit: ' : ''}${r.error ?? 'unknown error'})`).join('; ')}.`,
    );
  const busy = loadWarning(results);
  if (busy) parts.push(busy);
  return { winner: winner?.name ?? null, explanation: parts.join(' ') };
}

/**
 * One case's image: a numerical failure (black, uniform) fails the recipe; against the baseline's
 * image of the same case and seed, its SSIM, PSNR and difference heatmap. The pixels are worked
 * on in the image-quality worker, never in the studio's own process.
 */
export async function judgeCase(
  c: CaseRun,
  reference: Uint8Array | undefined,
  quality: QualityClient = qualityClient,
): Promise<{
  /** Against the baseline's image; null for the baseline itself. */
  quality: { ssim: number; psnr: number; heatmap: Uint8Array } | null;
  /** Against the case's prompt; null where the shapes vocabulary does not understand it. */
  adherence: CaseAdherence | null;
}> {
  const { inspection, metrics, heatmap, adherence } = await quality.judge(
    c.png,
    reference,
    c.testCase.prompt,
  );
  if (inspection.problem) {
    throw new StudioError(
      `case ${c.caseIndex + 1} ("${c.testCase.prompt}") produced a ${inspection.problem} image (mean ${inspection.mean.toFixed(1)}): a numerical failure, not a faster result`,
      'failed',
    );
  }
  return {
    quality:
      reference && metrics && heatmap ? { ssim: metrics.ssim, psnr: metrics.psnr, heatmap } : null,
    adherence,
  };
}

/**
 * A candidate's paired speed-up against the baseline: against the baseline runs interleaved with
 * its own where there are any (run i beside run i: truly paired), else against the baseline's own
 * cases (measured earlier: unpaired).
 */
export function caseSpeedup(
  cases: readonly CaseRun[],
  baseCases: readonly CaseRun[],
): SpeedupEstimate {
  return pairedSpeedup(
    cases.map((c) =>
      c.referenceLatencies
        ? { base: c.referenceLatencies, candidate: c.latencies, paired: true }
        : { base: baseCases[c.caseIndex]?.latencies ?? [], candidate: c.latencies },
    ),
  );
}

/**
 * A measured recipe's outcome: latency figures, the paired speed-up against the baseline (its
 * interleaved runs when there are any, else the baseline's own cases) with its interval, the worst
 * case's quality, the verdict, and for stacks their tier and contributions.
 */
export function judgeRecipe(j: {
  recipe: Recipe;
  run: RecipeRun;
  cases: CaseRun[];
  quality: { ssim: number; psnr: number }[];
  /** Each case's prompt adherence, where its prompt was understood. */
  adherence?: readonly CaseAdherence[];
  /** The baseline's adherence in this run (what a distilled recipe is held to). */
  baseAdherence?: RecipeAdherence | null;
  /** Null for the baseline itself. */
  baseCases: CaseRun[] | null;
  /** Each single recipe's speed-up alone (for stacks). */
  alone: ReadonlyMap<string, number | null>;
}): RecipeOutcome {
  const { recipe, run, cases, quality, baseCases } = j;
  const s = stats(cases.flatMap((c) => c.latencies));
  const paired = baseCases ? caseSpeedup(cases, baseCases) : null;
  // The worst case, not the mean: a recipe that ruins one prompt must not pass on the others.
  const ssim = quality.length ? Math.min(...quality.map((q) => q.ssim)) : null;
  const psnr = quality.length ? Math.min(...quality.map((q) => q.psnr)) : null;
  const speedup = paired ? paired.speedup : 1;
  const speedupCi = paired?.ci ?? null;
  const adherence = summariseAdherence(j.adherence ?? []);
  const stagesMs: Record<string, number> = {};
  for (const c of cases)
    for (const [k, v] of Object.entries(c.stages))
      stagesMs[k] = (stagesMs[k] ?? 0) + v / cases.length;
  return {
    name: recipe.name,
    title: recipe.title,
    status: 'ok',
    latencyMs: { mean: s.mean, std: s.std, median: s.median },
    stagesMs,
    peakRssMb: run.peakRssMb,
    peakGpuMb: run.peakGpuMb,
    cpuPercent: run.cpuPercent,
    ssim,
    psnr,
    speedup,
    speedupCi,
    adherence,
    loadMs: run.loadMs,
    firstImageMs: run.firstImageMs,
    ...(run.restartLoadMs !== undefined ? { restartLoadMs: run.restartLoadMs } : {}),
    verdict: verdictFor({
      isBaseline: !baseCases,
      speedup,
      ci: speedupCi,
      ssim,
      psnr,
      strategy: recipe.strategy,
      adherence,
      baseAdherence: j.baseAdherence,
    }),
    ...(run.topOps ? { topOps: run.topOps } : {}),
    ...(recipe.stack
      ? { tier: recipe.stack.tier, contributions: contributions(recipe, speedup, j.alone) }
      : {}),
  };
}
