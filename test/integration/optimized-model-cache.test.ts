import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  commitOptimizedModel,
  optimizedModelPath,
  withOptimizedCache,
} from '../../src/main/engine/optimized-model-cache';
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
  it('is on by default on the CPU', () => {
    expect(DEFAULT_RUN_CONFIG.optimizedModelCache).toBe(true);
  });

  it('keeps the copy that was renamed into place first and leaves no partial folder', () => {
    const file = resolve('test/fixtures/models/sd15-diffusers-script/unet/model.onnx');
    const cache = optimizedModelPath(file, DEFAULT_RUN_CONFIG, 'cpu');
    expect(cache.exists).toBe(false);
    // This process's partial copy, and another process's finished copy already in place.
    const { options } = withOptimizedCache({}, cache);
    const partial = dirname(options.optimizedModelFilePath as string);
    writeFileSync(join(partial, 'model.onnx'), 'mine');
    mkdirSync(dirname(cache.path), { recursive: true });
    writeFileSync(cache.path, 'theirs');
    commitOptimizedModel(cache);
    expect(readFileSync(cache.path, 'utf8')).toBe('theirs');
    expect(existsSync(partial)).toBe(false);
    rmSync(dirname(cache.path), { recursive: true, force: true });
  });

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
      const root = join(home.dir, 'cache', 'ort-optimized');
      const entries = readdirSync(root);
      // One folder per component (text encoder, UNet, VAE decoder), each whole; the second run
      // adds none, and no partial folder is left behind.
      expect(entries.filter((e) => existsSync(join(root, e, 'model.onnx')))).toHaveLength(3);
      expect(entries.filter((e) => e.endsWith('.partial'))).toEqual([]);
    }
    expect(pngs[1]).toBe(pngs[0]);
  });
});
