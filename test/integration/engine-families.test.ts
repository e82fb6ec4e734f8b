import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { readModelInfo } from '../../src/main/engine/model-loader';
import { ModelSessions } from '../../src/main/engine/model-sessions';
import { DEFAULT_RUN_CONFIG } from '../../src/main/engine/run-config';
import { runPipeline } from '../../src/main/engine/pipeline';
import type { PipelineRequest } from '../../src/main/engine/protocol';

/** Every fixture family generates through the one pipeline: right image size, finite pixels. */
const root = resolve('test/fixtures/models');
const fixtures = readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);
const open: ModelSessions[] = [];
afterAll(async () => {
  for (const s of open) await s.releaseAll();
});

const request = (modelDir: string, extra: Partial<PipelineRequest> = {}): PipelineRequest => ({
  modelDir,
  prompt: 'a red circle',
  negativePrompt: '',
  seed: 42,
  batch: 1,
  ep: 'cpu',
  previewEvery: 1,
  steps: 2,
  ...extra,
});

const hooks = { onProgress: () => {}, isCancelled: () => false };

describe.each(fixtures)('fixture %s', (name) => {
  it('generates an image of the requested size with guidance and batch 2', async () => {
    const info = await readModelInfo(join(root, name));
    const sessions = new ModelSessions(info, DEFAULT_RUN_CONFIG);
    open.push(sessions);
    const result = await runPipeline(
      sessions,
      request(info.dir, { guidance: 3, batch: 2, width: 64, height: 48 }),
      hooks,
    );
    expect(result.images).toHaveLength(2);
    for (const image of result.images) {
      const png = PNG.sync.read(Buffer.from(image.png));
      expect([png.width, png.height]).toEqual([64, 48]);
    }
    expect(result.timings.unetPerStep.length).toBeGreaterThanOrEqual(2);
    expect(result.timings.ort).toBeGreaterThan(0);
  });

  it('runs fewer steps for a short prompt with adaptive steps', async () => {
    const info = await readModelInfo(join(root, name));
    const sessions = new ModelSessions(info, DEFAULT_RUN_CONFIG);
    open.push(sessions);
    const r = await runPipeline(
      sessions,
      request(info.dir, { steps: 4, adaptiveSteps: true, prompt: 'red circle' }),
      hooks,
    );
    expect(r.steps).toBe(2);
  });

  it('runs the guidance-off path and a sequential residency', async () => {
    const info = await readModelInfo(join(root, name));
    const sessions = new ModelSessions(info, {
      ...DEFAULT_RUN_CONFIG,
      residency: 'sequential',
      vaeTiling: true,
    });
    const result = await runPipeline(sessions, request(info.dir, { guidance: 0, steps: 1 }), hooks);
    expect(result.images).toHaveLength(1);
    expect(result.guidance).toBe(0);
  });
});
