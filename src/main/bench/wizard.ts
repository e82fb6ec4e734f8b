import type { HardwareInfo, ModelSummary } from '../../shared/schemas';
import { BUILTIN_RECIPES, type Recipe } from './recipes';
import { PSNR_ACCEPTABLE_DB, SSIM_ACCEPTABLE } from './quality';

export type Priority = 'quality' | 'balance' | 'speed';
export type Objective = 'latency' | 'throughput';

export interface WizardQuestion {
  hardwareClass: HardwareInfo['hardwareClass'];
  priority: Priority;
  objective: Objective;
  family: ModelSummary['family'];
  /** Optimized variants present next to the model (`int8`, `fp16`, ...). */
  variants: readonly string[];
}

export interface Proposal {
  recipes: Recipe[];
  /** Recipes the tree wanted but that cannot run here, and why. */
  skipped: { recipe: string; reason: string }[];
}

/**
 * The decision tree: hardware class, then what matters, then latency or throughput. Proposes the
 * baseline and 2-5 candidates; it never decides alone, the benchmark does.
 */
export function proposeCandidates(q: WizardQuestion): Proposal {
  const wanted: string[] = [];
  const fewStepFamily = q.family === 'sd-turbo' || q.family === 'lcm';
  const gpu = q.hardwareClass === 'gpu-consumer' || q.hardwareClass === 'gpu-pro';
  // Most telling first: the cap of six keeps the head of this list.
  if (gpu) wanted.push('fp16');
  if (q.priority !== 'quality' && !gpu) wanted.push('int8');
  if (q.objective === 'throughput' || q.hardwareClass === 'gpu-consumer' || q.family === 'sdxl') {
    wanted.push(q.family === 'sdxl' ? 'sequential' : 'vae-tiled');
  }
  if (!fewStepFamily) {
    if (q.priority === 'speed') {
      wanted.push('dpm-half-trailing', 'dpm-fast', 'dpm-fastest', 'adaptive-steps');
    } else if (q.priority === 'balance') {
      wanted.push('dpm-half-trailing', 'dpm-fast', 'euler-fast');
    } else {
      wanted.push('dpm-half-trailing');
    }
  }
  wanted.push('graph-all');
  if (q.hardwareClass === 'cpu-only') wanted.push('threads-physical');
  if (q.priority === 'quality') wanted.push('graph-all-cached');

  const skipped: Proposal['skipped'] = [];
  const chosen: Recipe[] = [BUILTIN_RECIPES.find((r) => r.name === 'baseline') as Recipe];
  for (const name of wanted) {
    const recipe = BUILTIN_RECIPES.find((r) => r.name === name);
    if (!recipe || chosen.includes(recipe)) continue;
    if (recipe.variant !== 'source' && !q.variants.includes(recipe.variant)) {
      skipped.push({
        recipe: name,
        reason: `no ${recipe.variant} variant of this model exists yet (in-app ${recipe.variant} conversion is not built)`,
      });
      continue;
    }
    if (chosen.length >= 6) break;
    chosen.push(recipe);
  }
  return { recipes: chosen, skipped };
}

export interface MeasuredRecipe {
  name: string;
  status: 'ok' | 'failed';
  latencyMean: number | null;
  peakRssMb: number | null;
  ssim: number | null;
  psnr: number | null;
  error?: string | null;
}

export const passesQuality = (r: MeasuredRecipe, baseline: string): boolean =>
  r.name === baseline ||
  (r.ssim !== null && r.psnr !== null && r.ssim > SSIM_ACCEPTABLE && r.psnr > PSNR_ACCEPTABLE_DB);

/** Latencies within this fraction count as a tie, broken by peak memory. */
const TIE = 0.03;

/**
 * The winner: the fastest recipe whose images pass the quality thresholds against the baseline,
 * ties broken by lower peak memory. Returns the name and a paragraph that says why.
 */
export function pickWinner(
  results: MeasuredRecipe[],
  baseline: string,
): { winner: string | null; explanation: string } {
  const base = results.find((r) => r.name === baseline);
  const ok = results.filter((r) => r.status === 'ok' && r.latencyMean !== null);
  const passing = ok.filter((r) => passesQuality(r, baseline));
  if (!base || base.status !== 'ok' || base.latencyMean === null) {
    return {
      winner: null,
      explanation: `The baseline (${baseline}) did not complete, so nothing could be compared against it.`,
    };
  }
  if (passing.length === 0)
    return { winner: null, explanation: 'No recipe completed with acceptable quality.' };
  const sorted = [...passing].sort((a, b) => (a.latencyMean as number) - (b.latencyMean as number));
  const fastest = sorted[0];
  const ties = sorted.filter(
    (r) => (r.latencyMean as number) <= (fastest.latencyMean as number) * (1 + TIE),
  );
  const winner = ties.sort((a, b) => (a.peakRssMb ?? Infinity) - (b.peakRssMb ?? Infinity))[0];
  const speedup = (base.latencyMean as number) / (winner.latencyMean as number);
  const rejected = ok.filter((r) => !passesQuality(r, baseline));
  const failed = results.filter((r) => r.status === 'failed');
  const parts = [
    winner.name === baseline
      ? `No candidate beat the baseline with acceptable quality, so the baseline stays the default (${(base.latencyMean as number).toFixed(0)} ms per image).`
      : `${winner.name} is recommended: ${(winner.latencyMean as number).toFixed(0)} ms per image against ${(base.latencyMean as number).toFixed(0)} ms for the baseline (${speedup.toFixed(2)}x), with SSIM ${winner.ssim?.toFixed(3)} and PSNR ${winner.psnr?.toFixed(1)} dB against the baseline images (thresholds: SSIM > ${SSIM_ACCEPTABLE}, PSNR > ${PSNR_ACCEPTABLE_DB} dB).`,
  ];
  if (ties.length > 1)
    parts.push(
      `It tied within ${TIE * 100}% with ${ties
        .filter((t) => t !== winner)
        .map((t) => t.name)
        .join(', ')} and uses the least peak memory of them.`,
    );
  if (rejected.length > 0) {
    parts.push(
      `Rejected for quality: ${rejected.map((r) => `${r.name} (SSIM ${r.ssim?.toFixed(3) ?? '?'}, ${r.latencyMean?.toFixed(0)} ms)`).join(', ')}.`,
    );
  }
  if (failed.length > 0)
    parts.push(
      `Failed: ${failed.map((r) => `${r.name} (${r.error ?? 'unknown error'})`).join('; ')}.`,
    );
  return { winner: winner.name, explanation: parts.join(' ') };
}
