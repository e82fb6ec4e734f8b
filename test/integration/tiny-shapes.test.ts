import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { bundledModelsDir } from '../../src/main/paths';
import { readModelInfo } from '../../src/main/engine/model-loader';
import { ModelSessions } from '../../src/main/engine/model-sessions';
import { DEFAULT_RUN_CONFIG } from '../../src/main/engine/run-config';
import { colourAdherence } from '../helpers/shape-colour';
import { painter } from '../helpers/painter';

/**
 * The bundled model is real: its components run on a real prompt, and its images follow the prompt's
 * colour words — the shape is measurably redder for "a red ..." than for "a blue ..." on the same
 * background, over several shapes, backgrounds and seeds.
 */
const dir = join(bundledModelsDir(), 'tiny-shapes');
const paint = painter(dir);
let sessions: ModelSessions;

beforeAll(async () => {
  sessions = new ModelSessions(await readModelInfo(dir), DEFAULT_RUN_CONFIG);
});
afterAll(async () => {
  await sessions.releaseAll();
  await paint.release();
});

const png = paint.png;
const image = paint.image;

describe('tiny-shapes', () => {
  it('runs its three components on a real prompt: shapes and finite values', async () => {
    const info = await readModelInfo(dir);
    expect(info.family).toBe('sd1');
    const te = await sessions.acquire('text_encoder');
    const ids = info.tokenizer.encode('a red circle on a blue background').ids;
    expect(ids.length).toBe(77);
    const out = await te.run({ input_ids: new ort.Tensor('int32', Int32Array.from(ids), [1, 77]) });
    const hidden = out.last_hidden_state;
    expect(hidden.dims.slice(0, 2)).toEqual([1, 77]);
    expect((hidden.data as Float32Array).every(Number.isFinite)).toBe(true);
    const png = await image('a red circle on a blue background', 1);
    expect([png.width, png.height]).toEqual([64, 64]);
  });

  it('gives byte-identical PNGs for the same seed, and different ones for another', async () => {
    const a = Buffer.from(await png('a green star on a white background', 5));
    const b = Buffer.from(await png('a green star on a white background', 5));
    const c = Buffer.from(await png('a green star on a white background', 6));
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });

  it('draws the named colour: "a red ..." is redder in the shape than "a blue ..."', async () => {
    const { correct, total, meanGap } = await colourAdherence(image);
    // Pure chance would be 50%; the model must get the colour right in most pairs, by a clear margin.
    expect(correct / total).toBeGreaterThanOrEqual(0.75);
    expect(meanGap).toBeGreaterThan(60);
  });
});
