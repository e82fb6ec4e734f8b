import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { resolve } from 'node:path';
import { DEFAULT_RUN_CONFIG, sessionOptions, type RunConfig } from './run-config';

describe('sessionOptions', () => {
  it("leaves ONNX Runtime's spin-waiting on by default and turns it off for both pools on request", () => {
    expect(sessionOptions(DEFAULT_RUN_CONFIG, 'cpu').extra).toBeUndefined();
    expect(sessionOptions({ ...DEFAULT_RUN_CONFIG, allowSpinning: false }, 'cpu').extra).toEqual({
      session: { 'intra_op.allow_spinning': '0', 'inter_op.allow_spinning': '0' },
    });
  });

  it('by default spins only where the pipeline loops: the UNet, not the text encoders or the VAE', () => {
    const off = { session: { 'intra_op.allow_spinning': '0', 'inter_op.allow_spinning': '0' } };
    const extra = (config: RunConfig, component: string) =>
      sessionOptions(config, 'cpu', undefined, component).extra;
    expect(extra(DEFAULT_RUN_CONFIG, 'unet')).toBeUndefined();
    for (const c of ['text_encoder', 'text_encoder_2', 'vae_decoder'])
      expect(extra(DEFAULT_RUN_CONFIG, c)).toEqual(off);
    // ORT's own default, every session spinning (the explanatory spin-all recipe) ...
    const every = { ...DEFAULT_RUN_CONFIG, spinEverySession: true };
    expect(extra(every, 'vae_decoder')).toBeUndefined();
    // ... and no-spin turns the UNet's off too, whatever else is set.
    expect(extra({ ...every, allowSpinning: false }, 'unet')).toEqual(off);
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
