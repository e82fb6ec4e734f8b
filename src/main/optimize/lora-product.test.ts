import { describe, expect, it } from 'vitest';
import { randomFloats } from '../../../test/helpers/onnx-build';
import { JsKernel, openUpDownKernel, type UpDownKernel, type WeightLayout } from './lora-product';

/** w + factor · up · down in float64, in the weight's layout. */
function reference(
  w: Float32Array,
  layout: WeightLayout,
  up: Float32Array,
  down: Float32Array,
  out: number,
  rank: number,
  fanIn: number,
  factor: number,
): Float64Array {
  const r = Float64Array.from(w);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < fanIn; i++) {
      let s = 0;
      for (let k = 0; k < rank; k++) s += up[o * rank + k] * down[k * fanIn + i];
      r[layout === 'in-out' ? i * out + o : o * fanIn + i] += factor * s;
    }
  }
  return r;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

// Odd sizes (tails of the 4-row, 2-column and 256-column blocks), rank 1, and one SD-like shape.
const CASES: [number, number, number][] = [
  [1, 1, 1],
  [7, 3, 5],
  [13, 5, 515],
  [64, 16, 257],
  [320, 64, 640],
];

function check(kernel: UpDownKernel): void {
  let seed = 1;
  for (const [out, rank, fanIn] of CASES) {
    for (const layout of ['out-in', 'in-out', 'conv'] as WeightLayout[]) {
      const w = randomFloats(out * fanIn, seed++);
      const up = randomFloats(out * rank, seed++);
      const down = randomFloats(rank * fanIn, seed++);
      const expected = reference(w, layout, up, down, out, rank, fanIn, -0.35);
      const got = kernel.addUpDown(Float32Array.from(w), layout, up, down, out, rank, fanIn, -0.35);
      // float32 sums of up to 64 products of values in [-1, 1).
      expect(
        maxAbsDiff(got, expected),
        `${kernel.name} ${layout} ${out}×${rank}×${fanIn}`,
      ).toBeLessThan(1e-5);
      expect(maxAbsDiff(got, w)).toBeGreaterThan(0);
    }
  }
}

describe('up·down kernels', () => {
  it('ONNX Runtime GEMM (worker thread, synchronous to the caller) matches float64', () => {
    const kernel = openUpDownKernel('onnxruntime', { threads: 1 });
    try {
      expect(kernel.name).toBe('onnxruntime');
      check(kernel);
      expect(kernel.fallbackReason).toBeUndefined();
    } finally {
      kernel.close();
    }
  });

  it('the JavaScript loop matches float64 and changes the weight in place', () => {
    const kernel = new JsKernel();
    check(kernel);
    const w = new Float32Array(6);
    expect(
      kernel.addUpDown(
        w,
        'in-out',
        new Float32Array([1, 2, 3]),
        new Float32Array([1, 1]),
        3,
        1,
        2,
        1,
      ),
    ).toBe(w);
    expect(Array.from(w)).toEqual([1, 2, 3, 1, 2, 3]);
  });

  it('refuses sizes that do not agree', () => {
    expect(() =>
      new JsKernel().addUpDown(
        new Float32Array(5),
        'out-in',
        new Float32Array(2),
        new Float32Array(3),
        2,
        1,
        3,
        1,
      ),
    ).toThrow(/sizes do not agree/);
  });
});
