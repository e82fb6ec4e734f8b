import { afterAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { readModelInfo } from '../../src/main/engine/model-loader';
import { ModelSessions } from '../../src/main/engine/model-sessions';
import { DEFAULT_RUN_CONFIG } from '../../src/main/engine/run-config';
import { runPipeline } from '../../src/main/engine/pipeline';
import type { PipelineRequest } from '../../src/main/engine/protocol';

/** An explicit DDIM grid (a step-distilled card's `timesteps`) through the real engine. */
const tiny = resolve('resources/models/tiny-shapes');
let sessions: ModelSessions | undefined;
afterAll(async () => {
  await sessions?.releaseAll();
});

const generate = async (overrides: PipelineRequest['schedulerOverrides'], steps = 8) => {
  sessions ??= new ModelSessions(await readModelInfo(tiny), DEFAULT_RUN_CONFIG);
  const result = await runPipeline(
    sessions,
    {
      modelDir: tiny,
      prompt: 'a white circle on a black background',
      negativePrompt: '',
      seed: 1005,
      batch: 1,
      ep: 'cpu',
      previewEvery: 0,
      steps,
      guidance: 7.5,
      scheduler: 'ddim',
      schedulerOverrides: overrides,
    },
    { onProgress: () => {}, isCancelled: () => false },
  );
  return Buffer.from(result.images[0].png);
};

describe('DDIM with an explicit timesteps list', () => {
  it('draws the spaced grid given explicitly exactly as the spaced grid, and another grid differently', async () => {
    const spaced = await generate({ steps_offset: 86 });
    const sameGrid = await generate({ timesteps: [961, 836, 711, 586, 461, 336, 211, 86] });
    expect(sameGrid.equals(spaced)).toBe(true);
    const own = await generate({ timesteps: [961, 921, 841, 721, 561, 401, 241, 81] });
    expect(own.equals(spaced)).toBe(false);
  });

  it('refuses a list that does not match the steps, naming the fix', async () => {
    await expect(generate({ timesteps: [961, 481, 1] }, 8)).rejects.toThrow(
      /lists 3 timesteps for 8 steps; give one per step, or run at 3 steps/,
    );
    await expect(generate({ timesteps: 961 }, 8)).rejects.toThrow(
      /timesteps must be a list of integers/,
    );
  });
});
