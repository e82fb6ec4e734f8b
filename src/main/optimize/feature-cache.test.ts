import * as ort from 'onnxruntime-node';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CACHED_FEATURE,
  addCachedFeatureOutput,
  chooseCut,
  findSkipConcats,
  makeShallowUnet,
} from './feature-cache';
import { OnnxModel } from './onnx-model';
import { checkFeeds, compareOutputs } from './self-check';

const ROOT = resolve(__dirname, '../../..');
const TINY = join(ROOT, 'resources/models/tiny-shapes');
const FIXTURES = join(ROOT, 'test/fixtures/models');

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** Writes the pair for a model folder's UNet; returns the two files. */
function makePair(modelDir: string, branch = 0): { full: string; shallow: string; out: string } {
  const out = mkdtempSync(join(tmpdir(), 'ls-feature-cache-'));
  temps.push(out);
  const model = OnnxModel.read(join(modelDir, 'unet', 'model.onnx'));
  addCachedFeatureOutput(model, branch);
  mkdirSync(join(out, 'unet'));
  model.write(join(out, 'unet'));
  model.close();
  const full = OnnxModel.read(join(out, 'unet', 'model.onnx'));
  makeShallowUnet(full);
  mkdirSync(join(out, 'unet_shallow'));
  full.write(join(out, 'unet_shallow'));
  full.close();
  return {
    full: join(out, 'unet', 'model.onnx'),
    shallow: join(out, 'unet_shallow', 'model.onnx'),
    out,
  };
}

const floats = (t: ort.Tensor): Float32Array => t.data as Float32Array;

async function runAll(modelDir: string, pair: { full: string; shallow: string }) {
  const src = await ort.InferenceSession.create(join(modelDir, 'unet', 'model.onnx'));
  const full = await ort.InferenceSession.create(pair.full);
  const shallow = await ort.InferenceSession.create(pair.shallow);
  const feeds = checkFeeds(src, 'unet', modelDir);
  const source = await src.run(feeds);
  const fullOut = await full.run(feeds);
  const shallowOut = await shallow.run({ ...feeds, cached_feature: fullOut[CACHED_FEATURE] });
  // Another step's inputs: the shallow UNet must follow its own inputs, not just echo the cache.
  const other = {
    ...feeds,
    sample: new ort.Tensor(
      'float32',
      floats(feeds.sample).map((v) => -v),
      feeds.sample.dims,
    ),
  };
  const shallowOther = await shallow.run({ ...other, cached_feature: fullOut[CACHED_FEATURE] });
  const shape = {
    fullOutputs: full.outputNames,
    shallowInputs: shallow.inputNames,
  };
  await Promise.all([src.release(), full.release(), shallow.release()]);
  return { source, fullOut, shallowOut, shallowOther, shape };
}

describe('finding the cut', () => {
  it('finds both skip Concats of tiny-shapes, and branch 0 is the one nearest the output', () => {
    const m = OnnxModel.read(join(TINY, 'unet', 'model.onnx'));
    const skips = findSkipConcats(m);
    // tiny-shapes has two levels: the up path reads s1 (4x4) and then s0 (8x8).
    expect(skips.map((s) => s.skip)).toEqual([
      '/down1_attn/Add_3_output_0',
      '/down0_attn/Add_3_output_0',
    ]);
    expect(skips.every((s) => !s.stem)).toBe(true);
    const choice = chooseCut(m, 0);
    expect('cut' in choice && choice.cut.feature).toBe('/upsample_conv/Conv_output_0');
    const deeper = chooseCut(m, 1);
    expect('cut' in deeper && deeper.cut.feature).toBe('/mid_res2/Add_1_output_0');
    expect('refused' in chooseCut(m, 2) && chooseCut(m, 2)).toMatchObject({
      refused: expect.stringContaining('branch 2 does not exist'),
    });
    m.close();
  });

  it("uses the stem skip only where it is a fixture's only one", () => {
    const m = OnnxModel.read(join(FIXTURES, 'sd15-optimum-float', 'unet', 'model.onnx'));
    const skips = findSkipConcats(m);
    expect(skips).toHaveLength(1);
    expect(skips[0].stem).toBe(true);
    expect('cut' in chooseCut(m, 0)).toBe(true);
    m.close();
  });

  it('refuses a UNet without skip connections, naming why', () => {
    const m = OnnxModel.read(join(TINY, 'vae_decoder', 'model.onnx'));
    expect(() => addCachedFeatureOutput(m, 0)).toThrow(/no skip connection was found/);
    m.close();
  });

  it('refuses to cut a shallow UNet out of a model the transform did not make', () => {
    const m = OnnxModel.read(join(TINY, 'unet', 'model.onnx'));
    expect(() => makeShallowUnet(m)).toThrow(/not a feature-cache UNet/);
    m.close();
  });
});

describe('the pair reproduces the source', () => {
  const models: [string, string][] = [
    ['tiny-shapes', TINY],
    ...['sd15-optimum-float', 'sd15-optimum-int64', 'sd21-vpred', 'sdxl', 'lcm', 'sd-turbo'].map(
      (f): [string, string] => [f, join(FIXTURES, f)],
    ),
  ];
  it.each(models)('%s', async (_name, dir) => {
    const pair = makePair(dir);
    const r = await runAll(dir, pair);
    expect(r.shape.fullOutputs).toEqual(['out_sample', CACHED_FEATURE]);
    expect(r.shape.shallowInputs).toContain(CACHED_FEATURE);
    // The full UNet only gained an output: out_sample is the source's, bit for bit.
    expect(Array.from(floats(r.fullOut.out_sample))).toEqual(
      Array.from(floats(r.source.out_sample)),
    );
    // At a full step the shallow UNet on that step's own feature gives the full output.
    const same = compareOutputs([floats(r.fullOut.out_sample)], [floats(r.shallowOut.out_sample)]);
    expect(same.cosine).toBeGreaterThan(0.99999);
    expect(same.maxAbsDiff).toBeLessThan(1e-4);
    // On other inputs it computes something else: it reads its own sample, not only the cache.
    const other = compareOutputs(
      [floats(r.fullOut.out_sample)],
      [floats(r.shallowOther.out_sample)],
    );
    expect(other.maxAbsDiff).toBeGreaterThan(1e-3);
  });

  it('the shallow UNet of tiny-shapes keeps well under half of the nodes', () => {
    const pair = makePair(TINY);
    const full = OnnxModel.read(pair.full);
    const shallow = OnnxModel.read(pair.shallow);
    const ratio = shallow.graph.node.length / full.graph.node.length;
    expect(ratio).toBeGreaterThan(0.2);
    expect(ratio).toBeLessThan(0.5);
    // The mid block only fed the deep feature: it is gone.
    expect(shallow.graph.node.some((n) => n.name.startsWith('/mid_'))).toBe(false);
    expect(shallow.graph.node.some((n) => n.name.startsWith('/down0_'))).toBe(true);
    full.close();
    shallow.close();
  });
});
