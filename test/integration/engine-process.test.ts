import { afterAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { EngineClient } from '../../src/main/engine/engine-client';
import type { PipelineRequest } from '../../src/main/engine/protocol';

/** The engine runs in a child process: if it dies, the request fails with the reason and the next one works. */
const engine = new EngineClient();
afterAll(() => engine.close());

const request: PipelineRequest = {
  modelDir: resolve('test/fixtures/models/sd15-optimum-int64'),
  prompt: 'a blue square',
  negativePrompt: '',
  seed: 1,
  batch: 1,
  ep: 'cpu',
  steps: 30,
  guidance: 7.5,
  previewEvery: 0,
};

describe('engine process', () => {
  it('fails the request in flight when the child is killed, then serves the next one', async () => {
    let killed = false;
    const first = engine.run('job-1', request, (p) => {
      if (!killed && p.stage === 'denoise' && p.step >= 2) {
        killed = true;
        process.kill(engine.pid as number, 'SIGKILL');
      }
    });
    await expect(first).rejects.toThrow(/killed \(SIGKILL/);
    const second = await engine.run('job-2', { ...request, steps: 2 }, () => {});
    expect(second.images).toHaveLength(1);
  });

  it('cancels between steps', async () => {
    let asked = false;
    const job = engine.run('job-3', request, (p) => {
      if (!asked && p.stage === 'denoise') {
        asked = true;
        engine.cancel('job-3');
      }
    });
    await expect(job).rejects.toThrow(/cancelled/);
  });

  it('reports a folder that is not a model', async () => {
    await expect(
      engine.run('job-4', { ...request, modelDir: resolve('test') }, () => {}),
    ).rejects.toThrow(/unet\/model.onnx is missing/);
  });
});
