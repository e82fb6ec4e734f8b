import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundledModelsDir, resourcesDir } from '../paths';
import { findStepDistilledLora } from '../optimize/bundled-loras';
import { tempHome } from '../../../test/helpers/temp-home';
import { DISTILLED_STEPS_RECIPE, findRecipe } from './recipes';
import { withCardSampling } from './variants';

const tiny = join(bundledModelsDir(), 'tiny-shapes');
const home = tempHome('ls-card-sampling-');
afterAll(() => home.cleanup());

describe('a distilled recipe samples as its LoRA card says', () => {
  it("takes the bundled card's scheduler, steps and guidance for tiny-shapes", () => {
    const card = findStepDistilledLora(tiny, 'sd1', home.dir);
    expect(card?.path.startsWith(resourcesDir())).toBe(true);
    if (!card?.steps) throw new Error('the bundled step-distilled card names its steps');
    const r = withCardSampling(DISTILLED_STEPS_RECIPE, tiny, 'sd1', home.dir);
    expect(r.sampling).toEqual({
      scheduler: card.scheduler,
      steps: card.steps,
      guidance: card.guidance,
      ...(card.schedulerOverrides ? { schedulerOverrides: card.schedulerOverrides } : {}),
    });
    expect(r.title).toContain(`${card.steps} steps`);
  });

  it("uses a person's own card for their model's family, steps and all", () => {
    mkdirSync(join(home.dir, 'loras'), { recursive: true });
    writeFileSync(join(home.dir, 'loras', 'six.safetensors'), 'not read here');
    writeFileSync(
      join(home.dir, 'loras', 'six.json'),
      JSON.stringify({
        name: 'six',
        kind: 'step-distilled',
        file: 'six.safetensors',
        family: 'sd1',
        scheduler: 'ddim',
        steps: 6,
        guidance: 1.5,
        schedulerOverrides: { steps_offset: 3 },
        teacher: { scheduler: 'pndm', steps: 50, guidance: 7.5 },
      }),
    );
    const r = withCardSampling(DISTILLED_STEPS_RECIPE, '/models/my-sd15', 'sd1', home.dir);
    expect(r.sampling).toEqual({
      scheduler: 'ddim',
      steps: 6,
      guidance: 1.5,
      schedulerOverrides: { steps_offset: 3 },
    });
    expect(r.title).toBe('Distilled: the same pictures in 6 steps');
    // No card for another family: the catalogue's fallback stays.
    expect(withCardSampling(DISTILLED_STEPS_RECIPE, '/models/x', 'sdxl', home.dir)).toBe(
      DISTILLED_STEPS_RECIPE,
    );
  });

  it('leaves recipes without a LoRA alone', () => {
    const dpm = findRecipe('dpm-fast');
    expect(withCardSampling(dpm, tiny, 'sd1', home.dir)).toBe(dpm);
  });
});
