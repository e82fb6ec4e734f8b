import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema } from 'onnx-buf';
import { attr, makeNode, makeTensor, OnnxModel } from './onnx-model';
import { dequantizeNBits, quantizeMatMulNBits, quantizeNBits, transpose } from './matmul-nbits';
import { quantizeDynamic, quantizeInt8PerChannel, quantizeWeightsDq } from './int8-weights';
import { DT } from './tensor-data';
import { randomFloats, valueInfo, writeModel } from '../../../test/helpers/onnx-build';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'ls-nbits-'));

/** y = x · W (+ b), by hand in float64: the reference the quantized graphs are held to. */
function matmul(
  x: Float32Array,
  w: Float32Array,
  rows: number,
  k: number,
  n: number,
  bias?: Float32Array,
) {
  const y = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < n; c++) {
      let s = bias ? bias[c] : 0;
      for (let i = 0; i < k; i++) s += x[r * k + i] * w[i * n + c];
      y[r * n + c] = s;
    }
  return y;
}

async function run(file: string, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  try {
    const out = await session.run({ x: new ort.Tensor('float32', x, dims) });
    return out.y.data as Float32Array;
  } finally {
    await session.release();
  }
}

function matMulModel(dir: string, k: number, n: number, w: Float32Array): string {
  return writeModel(dir, {
    nodes: [makeNode('MatMul', ['x', 'w'], ['y'], 'mm')],
    initializers: [makeTensor('w', DT.FLOAT, [k, n], w)],
    inputs: [valueInfo('x', ['rows', k])],
    outputs: [valueInfo('y', ['rows', n])],
  });
}

const maxAbs = (a: Float32Array, b: Float32Array): number =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('quantizeNBits', () => {
  it('packs 4-bit codes two to a byte, even k in the low nibble, the block extreme on code 0', () => {
    // One column, one block of 16: values on the grid of scale 1 (extreme -8 gives scale 1).
    const w = Float32Array.from([-8, 7, 0, 1, -1, 2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7]);
    const { packed, scales } = quantizeNBits(w, 16, 1, 4, 16);
    expect(scales[0]).toBe(1);
    expect(packed[0]).toBe(0 | (15 << 4)); // -8 → 0 (low), 7 → 15 (high)
    expect(packed[1]).toBe(8 | (9 << 4)); // 0 → 8, 1 → 9
    expect(Array.from(dequantizeNBits(packed, scales, 16, 1, 4, 16))).toEqual(Array.from(w));
  });

  it('keeps the error within half a step per block, with K padded to whole blocks', () => {
    const [k, n] = [40, 6];
    const w = randomFloats(k * n, 3);
    for (const bits of [4, 8] as const) {
      const { packed, scales } = quantizeNBits(w, k, n, bits, 32);
      expect(packed.length).toBe(n * 2 * ((32 * bits) / 8));
      const back = dequantizeNBits(packed, scales, k, n, bits, 32);
      for (let i = 0; i < k * n; i++) {
        const col = i % n;
        const block = Math.floor(Math.floor(i / n) / 32);
        const step = Math.abs(scales[col * 2 + block]);
        // Symmetric codes run -2^(b-1) .. 2^(b-1)-1: the block's extreme sits on the negative end,
        // so values of the other sign beyond (2^(b-1)-1) steps lose up to one step; others half.
        const inRange = Math.abs(w[i]) <= ((1 << (bits - 1)) - 1) * step;
        expect(Math.abs(back[i] - w[i])).toBeLessThanOrEqual((inRange ? step / 2 : step) + 1e-6);
      }
    }
  });
});

describe('MatMulNBits in ONNX Runtime computes what the packed weights say', () => {
  for (const bits of [4, 8] as const) {
    it(`${bits}-bit MatMul (K = 40, not a whole block) matches x · dequant(W)`, async () => {
      const [rows, k, n] = [3, 40, 48];
      const w = randomFloats(k * n, 11);
      const x = randomFloats(rows * k, 12);
      const dir = tmp();
      const model = OnnxModel.read(matMulModel(join(dir, 'src'), k, n, w));
      const report = quantizeMatMulNBits(model, { bits, minElements: 16 });
      expect(report.quantized).toBe(1);
      model.write(join(dir, 'src'));
      const written = fromBinary(ModelProtoSchema, readFileSync(join(dir, 'src', 'model.onnx')));
      expect(written.graph?.node.map((nd) => `${nd.domain}:${nd.opType}`)).toEqual([
        'com.microsoft:MatMulNBits',
      ]);

      const { packed, scales } = quantizeNBits(w, k, n, bits, 32);
      const expected = matmul(x, dequantizeNBits(packed, scales, k, n, bits, 32), rows, k, n);
      const got = await run(join(dir, 'src', 'model.onnx'), x, [rows, k]);
      // accuracy_level 4 quantizes activations to int8 where the CPU supports it: allow for that.
      expect(maxAbs(got, expected)).toBeLessThan(0.05);
      expect(maxAbs(got, matmul(x, w, rows, k, n))).toBeLessThan(bits === 8 ? 0.1 : 0.6);
    });
  }

  it('Gemm with transB and a bias becomes MatMulNBits + Add, same result', async () => {
    const [rows, k, n] = [2, 64, 32];
    const wT = randomFloats(n * k, 21); // [N, K]
    const bias = randomFloats(n, 22);
    const x = randomFloats(rows * k, 23);
    const dir = tmp();
    const file = writeModel(dir, {
      nodes: [makeNode('Gemm', ['x', 'w', 'b'], ['y'], 'gemm', [attr('transB', 1)])],
      initializers: [makeTensor('w', DT.FLOAT, [n, k], wT), makeTensor('b', DT.FLOAT, [n], bias)],
      inputs: [valueInfo('x', [rows, k])],
      outputs: [valueInfo('y', [rows, n])],
    });
    const model = OnnxModel.read(file);
    expect(quantizeMatMulNBits(model, { bits: 8 }).quantized).toBe(1);
    const out = join(dir, 'q');
    mkdirSync(out);
    model.write(out);
    const got = await run(join(out, 'model.onnx'), x, [rows, k]);
    const expected = matmul(x, transpose(wT, n, k), rows, k, n, bias);
    expect(maxAbs(got, expected)).toBeLessThan(0.1);
  });

  it('leaves small weights and activation × activation MatMuls alone, saying why', () => {
    const dir = tmp();
    const file = writeModel(dir, {
      nodes: [
        makeNode('MatMul', ['x', 'w'], ['h'], 'small'),
        makeNode('MatMul', ['h', 'x2'], ['y'], 'act'),
      ],
      initializers: [makeTensor('w', DT.FLOAT, [8, 8], randomFloats(64, 1))],
      inputs: [valueInfo('x', [2, 8]), valueInfo('x2', [8, 4])],
      outputs: [valueInfo('y', [2, 4])],
    });
    const r = quantizeMatMulNBits(OnnxModel.read(file), { bits: 8 });
    expect(r.quantized).toBe(0);
    expect(r.left.map((l) => l.node)).toEqual(['small', 'act']);
    expect(r.left[0].reason).toMatch(/small/);
  });
});

describe('int8 weights', () => {
  it('per-channel int8: each channel scaled by its own max, extremes on ±127', () => {
    const w = Float32Array.from([1, -2, 0.5, 0.25, 10, -5]);
    const { q, scales } = quantizeInt8PerChannel(w, 2);
    expect(Array.from(q.slice(0, 3))).toEqual([64, -127, 32]);
    expect(q[4]).toBe(127);
    expect(scales[1]).toBeCloseTo(10 / 127, 7);
  });

  it('DequantizeLinear in front of a Conv and dynamic MatMul give the float result within int8 error', async () => {
    const dir = tmp();
    const conv = randomFloats(16 * 8 * 3 * 3, 31);
    const file = writeModel(join(dir, 'src'), {
      nodes: [
        makeNode('Conv', ['x', 'cw'], ['c'], 'conv', [attr('pads', [1, 1, 1, 1])]),
        makeNode('Flatten', ['c'], ['f'], 'flat'),
        makeNode('MatMul', ['f', 'mw'], ['y'], 'mm'),
      ],
      initializers: [
        makeTensor('cw', DT.FLOAT, [16, 8, 3, 3], conv),
        makeTensor('mw', DT.FLOAT, [16 * 16, 32], randomFloats(16 * 16 * 32, 32)),
      ],
      inputs: [valueInfo('x', [1, 8, 4, 4])],
      outputs: [valueInfo('y', [1, 32])],
    });
    const x = randomFloats(8 * 16, 33);
    const reference = await run(file, x, [1, 8, 4, 4]);
    const norm = Math.sqrt(reference.reduce((a, v) => a + v * v, 0));
    for (const [name, apply] of [
      ['dq', (m: OnnxModel) => quantizeWeightsDq(m, 64)],
      ['dynamic', (m: OnnxModel) => quantizeDynamic(m, 64)],
    ] as const) {
      const model = OnnxModel.read(file);
      expect(apply(model).quantized, name).toBe(1);
      const out = join(dir, name);
      mkdirSync(out);
      model.write(out);
      const got = await run(join(out, 'model.onnx'), x, [1, 8, 4, 4]);
      const err = Math.sqrt(got.reduce((a, v, i) => a + (v - reference[i]) ** 2, 0));
      expect(err / norm, name).toBeLessThan(0.02);
      expect(err, name).toBeGreaterThan(0); // it really ran quantized
    }
  });
});
