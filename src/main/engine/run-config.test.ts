import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { resolve } from 'node:path';
import { DEFAULT_RUN_CONFIG, sessionOptions } from './run-config';

describe('sessionOptions', () => {
  it("leaves ONNX Runtime's spin-waiting on by default and turns it off for both pools on request", () => {
    expect(sessionOptions(DEFAULT_RUN_CONFIG, 'cpu').extra).toBeUndefined();
    expect(sessionOptions({ ...DEFAULT_RUN_CONFIG, allowSpinning: false }, 'cpu').extra).toEqual({
      session: { 'intra_op.allow_spinning': '0', 'inter_op.allow_spinning': '0' },
    });
  });

  it('a session with spinning off is created and runs', async () => {
    const model = resolve('resources/models/tiny-shapes/vae_decoder/model.onnx');
    const session = await ort.InferenceSession.create(
      model,
      sessionOptions({ ...DEFAULT_RUN_CONFIG, allowSpinning: false }, 'cpu'),
    );
    const input = session.inputNames[0];
    const out = await session.run({
      [input]: new ort.Tensor('float32', new Float32Array(4 * 8 * 8), [1, 4, 8, 8]),
    });
    expect(Object.keys(out)).toHaveLength(1);
    await session.release();
  });
});
