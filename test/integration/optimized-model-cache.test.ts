import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readModelInfo } from '../../src/main/engine/model-loader';
import { ModelSessions } from '../../src/main/engine/model-sessions';
import { DEFAULT_RUN_CONFIG } from '../../src/main/engine/run-config';
import { runPipeline } from '../../src/main/engine/pipeline';
import { tempHome } from '../helpers/temp-home';

const home = tempHome();
const previous = process.env.LATENT_STUDIO_HOME;
process.env.LATENT_STUDIO_HOME = home.dir;
afterAll(() => {
  process.env.LATENT_STUDIO_HOME = previous;
  home.cleanup();
});

describe('optimized-model cache', () => {
  it('writes ORT optimized graphs once, reuses them, and gives the same image', async () => {
    const dir = resolve('test/fixtures/models/sd15-diffusers-script');
    const pngs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const sessions = new ModelSessions(await readModelInfo(dir), {
        ...DEFAULT_RUN_CONFIG,
        optimizedModelCache: true,
      });
      const r = await runPipeline(
        sessions,
        {
          modelDir: dir,
          prompt: 'x',
          negativePrompt: '',
          seed: 1,
          batch: 1,
          ep: 'cpu',
          steps: 2,
          previewEvery: 0,
        },
        { onProgress: () => {}, isCancelled: () => false },
      );
      pngs.push(Buffer.from(r.images[0].png).toString('base64'));
      await sessions.releaseAll();
      const cached = readdirSync(join(home.dir, 'cache', 'ort-optimized')).filter((f) =>
        f.endsWith('.onnx'),
      );
      expect(cached).toHaveLength(3); // text encoder, UNet, VAE decoder; the second run adds none
    }
    expect(pngs[1]).toBe(pngs[0]);
  });
});
