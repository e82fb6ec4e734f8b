import { describe, expect, it } from 'vitest';
import { fromHalfBits, toHalfBits } from './float16';

describe('float16 conversion', () => {
  it('matches IEEE 754 half-precision bit patterns', () => {
    // Reference values from the IEEE 754 binary16 definition.
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff],
      [2 ** -14, 0x0400],
      [2 ** -24, 0x0001],
      [Infinity, 0x7c00],
      [1e6, 0x7c00],
      [0.1, 0x2e66],
      [1 / 3, 0x3555],
    ];
    const bits = toHalfBits(Float32Array.from(cases.map((c) => c[0])));
    expect(Array.from(bits)).toEqual(cases.map((c) => c[1]));
    expect(Number.isNaN(fromHalfBits(toHalfBits(Float32Array.of(NaN)))[0])).toBe(true);
  });

  it('round-trips within half precision', () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => (i - 500) * 0.0371);
    const back = fromHalfBits(toHalfBits(values));
    for (let i = 0; i < values.length; i++) {
      expect(Math.abs(back[i] - values[i])).toBeLessThanOrEqual(
        Math.abs(values[i]) * 2 ** -11 + 1e-7,
      );
    }
  });
});
