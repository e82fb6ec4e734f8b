import { PNG } from 'pngjs';
import { readModelInfo } from '../../src/main/engine/model-loader';
import { ModelSessions } from '../../src/main/engine/model-sessions';
import { DEFAULT_RUN_CONFIG } from '../../src/main/engine/run-config';
import { runPipeline } from '../../src/main/engine/pipeline';

/**
 * Images from one model folder through the studio's own engine, in this process: 20 steps of the
 * model's scheduler, guidance 7.5, batch 1, CPU. Sessions load on first use and stay resident.
 */
export function painter(dir: string): {
  png(prompt: string, seed: number): Promise<Uint8Array>;
  image(prompt: string, seed: number): Promise<PNG>;
  release(): Promise<void>;
} {
  let sessions: ModelSessions | undefined;
  const png = async (prompt: string, seed: number): Promise<Uint8Array> => {
    sessions ??= new ModelSessions(await readModelInfo(dir), DEFAULT_RUN_CONFIG);
    const r = await runPipeline(
      sessions,
      {
        modelDir: dir,
        prompt,
        negativePrompt: '',
        seed,
        batch: 1,
        ep: 'cpu',
        steps: 20,
        guidance: 7.5,
        previewEvery: 0,
      },
      { onProgress: () => {}, isCancelled: () => false },
    );
    return r.images[0].png;
  };
  return {
    png,
    image: async (prompt, seed) => PNG.sync.read(Buffer.from(await png(prompt, seed))),
    release: async () => {
      await sessions?.releaseAll();
    },
  };
}
