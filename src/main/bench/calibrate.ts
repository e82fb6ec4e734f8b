import { EngineClient } from '../engine/engine-client';
import { StudioError } from '../../shared/errors';
import type { ExecutionProvider } from '../../shared/schemas';
import { calibrationFrom, type Calibration } from './budget';
import { caseRequest } from './measure';
import type { Recipe } from './recipes';
import type { TestCase } from './test-sets';
import type { ModelSummary } from '../../shared/schemas';

/** Denoising steps the calibration runs: the first carries the arena's growth, the last is steady. */
export const CALIBRATION_STEPS = 3;

/**
 * The budget's calibration: one generation of the baseline at the plan's size and rows with
 * CALIBRATION_STEPS steps, on a fresh engine (so its session load is a cold start's), then the
 * engine is closed. Its stage timings cost every image of the plan (budget.ts).
 */
export async function calibrate(m: {
  model: { name: string; dir: string; family: ModelSummary['family'] };
  baseline: Recipe;
  testCase: TestCase;
  settings: 'model' | 'cases';
  defaultSteps: number;
  defaultGuidance: number;
  batch: number;
  ep: ExecutionProvider;
  physicalCores: number;
  jobId: string;
  isCancelled: () => boolean;
}): Promise<Calibration> {
  const engine = new EngineClient();
  try {
    const request = {
      ...caseRequest(m, m.baseline, m.testCase, m.model.dir),
      steps: CALIBRATION_STEPS,
    };
    const id = `${m.jobId}-calibrate`;
    const t0 = performance.now();
    const result = await engine.run(id, request, () => {
      if (m.isCancelled()) engine.cancel(id);
    });
    if (m.isCancelled()) throw new StudioError('benchmark cancelled', 'cancelled');
    return calibrationFrom(result, performance.now() - t0, {
      steps: m.settings === 'model' ? m.defaultSteps : m.testCase.steps,
      guidance: m.settings === 'model' ? m.defaultGuidance : m.testCase.guidance,
    });
  } finally {
    await engine.close();
  }
}
