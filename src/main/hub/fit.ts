import type { ExecutionProvider, HardwareInfo } from '../../shared/schemas';
import type { FitReport } from '../../shared/hub-schemas';

/**
 * Will it fit? A plain verdict from the weights' size against the memory the weights would live in:
 * RAM for the CPU provider, the GPU's own memory for GPU providers (CoreML on Apple silicon shares
 * RAM). The figures are estimates, stated as such:
 * - resident: every component loaded at once needs about 1.2 x the weights (ORT's copies and
 *   arenas) plus ~512 MiB of activations at 512x512;
 * - sequential residency loads one component at a time, so the largest component sets the need;
 * - int8 keeps ~30% of float32 weights (MatMul/Conv weights in 8 bits, the rest stays float), int4
 *   ~18%.
 * The budget is 75% of RAM (the OS, the studio and the browser need the rest) or 90% of VRAM.
 */

const OVERHEAD = 1.2;
const ACTIVATIONS = 512 * 2 ** 20;
const FACTORS = { int8: 0.3, int4: 0.18 } as const;

export interface FitInput {
  weightsBytes: number;
  largestComponentBytes: number;
  ep: ExecutionProvider;
  hardware: Pick<HardwareInfo, 'memory' | 'gpus'>;
}

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

function needFor(weights: number): number {
  return weights * OVERHEAD + ACTIVATIONS;
}

export function checkFit(input: FitInput): FitReport {
  const gpu = input.ep !== 'cpu' && input.ep !== 'coreml';
  const vram = Math.max(0, ...input.hardware.gpus.map((g) => g.vramMb ?? 0));
  const budgetMb = gpu
    ? vram > 0
      ? Math.floor(vram * 0.9)
      : null
    : Math.floor(input.hardware.memory.totalMb * 0.75);
  const base = {
    device: gpu ? ('gpu' as const) : ('cpu' as const),
    ep: input.ep,
    weightsBytes: input.weightsBytes,
    largestComponentBytes: input.largestComponentBytes,
    budgetMb,
  };
  const where = gpu ? 'GPU memory' : 'RAM';
  if (budgetMb === null) {
    return {
      ...base,
      verdict: 'fits',
      explanation: `The GPU does not report its memory here, so the ${gib(input.weightsBytes)} of weights could not be checked; a benchmark run will tell.`,
      recipes: [],
    };
  }
  const budget = budgetMb * 2 ** 20;
  const verdictFor = (all: number, largest: number): FitReport['verdict'] =>
    needFor(all) <= budget ? 'fits' : needFor(largest) <= budget ? 'fits-sequential' : 'too-large';
  const verdict = verdictFor(input.weightsBytes, input.largestComponentBytes);
  const recipes: FitReport['recipes'] = [];
  if (verdict !== 'fits') {
    if (verdict === 'fits-sequential') {
      recipes.push({
        recipe: 'sequential',
        estimatedBytes: input.largestComponentBytes,
        verdict: 'fits-sequential',
      });
    }
    for (const recipe of ['int8', 'int4'] as const) {
      const f = FACTORS[recipe];
      const v = verdictFor(input.weightsBytes * f, input.largestComponentBytes * f);
      if (v !== 'too-large')
        recipes.push({ recipe, estimatedBytes: Math.round(input.weightsBytes * f), verdict: v });
    }
  }
  const budgetText = `${gib(budget)} of ${where} available to models`;
  const explanation =
    verdict === 'fits'
      ? `${gib(input.weightsBytes)} of weights fit in ${budgetText}.`
      : verdict === 'fits-sequential'
        ? `${gib(input.weightsBytes)} of weights do not fit at once in ${budgetText}; loading one component at a time (largest ${gib(input.largestComponentBytes)}) does.`
        : `${gib(input.weightsBytes)} of weights are too large for ${budgetText}, even one component at a time${recipes.length > 0 ? `; ${recipes.map((r) => r.recipe).join(' or ')} would bring it within reach` : ''}.`;
  return { ...base, verdict, explanation, recipes };
}
