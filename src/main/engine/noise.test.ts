import { describe, expect, it } from 'vitest';
import { createNoise, philox4x32_10, randomSeed } from './noise';

const hex = (words: Uint32Array): string[] =>
  Array.from(words, (w) => w.toString(16).padStart(8, '0'));

describe('philox4x32_10', () => {
  // Random123's published known-answer vectors (tests/kat_vectors), not our own output.
  it('matches Random123 KAT: counter 0, key 0', () => {
    expect(hex(philox4x32_10([0, 0, 0, 0], [0, 0]))).toEqual([
      '6627e8d5',
      'e169c58d',
      'bc57ac4c',
      '9b00dbd8',
    ]);
  });
  it('matches Random123 KAT: all ones', () => {
    const ones = 0xffffffff;
    expect(hex(philox4x32_10([ones, ones, ones, ones], [ones, ones]))).toEqual([
      '408f276d',
      '41c83b0e',
      'a20bc7c6',
      '6d5451fd',
    ]);
  });
  it('matches Random123 KAT: pi digits', () => {
    const out = philox4x32_10(
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
    );
    expect(hex(out)).toEqual(['d16cfe09', '94fdcceb', '5001e420', '24126ea1']);
  });
});

describe('createNoise', () => {
  it('turns the published first block of seed 0 into normals by the documented Box–Muller', () => {
    // Seed 0, stream 0, block 0 is Philox(counter 0, key 0): the first KAT vector above.
    const w = [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8];
    const u = w.map((x) => (x + 0.5) / 2 ** 32);
    const r0 = Math.sqrt(-2 * Math.log(u[0]));
    const r1 = Math.sqrt(-2 * Math.log(u[2]));
    const expected = [
      r0 * Math.cos(2 * Math.PI * u[1]),
      r0 * Math.sin(2 * Math.PI * u[1]),
      r1 * Math.cos(2 * Math.PI * u[3]),
      r1 * Math.sin(2 * Math.PI * u[3]),
    ].map(Math.fround);
    expect(Array.from(createNoise(0).normal(4))).toEqual(expected);
  });

  it('is deterministic and independent of how the stream is read', () => {
    const whole = createNoise(1234).normal(23);
    const noise = createNoise(1234);
    const parts = [...noise.normal(3), ...noise.normal(5), ...noise.normal(15)];
    expect(parts).toEqual(Array.from(whole));
    expect(noise.position).toBe(23);
    expect(createNoise(1234).normal(23)).toEqual(whole);
  });

  it('gives different, uncorrelated noise per seed and per stream', () => {
    const n = 20000;
    const a = createNoise(7).normal(n);
    const b = createNoise(8).normal(n);
    const c = createNoise(7, 1).normal(n);
    const corr = (x: Float32Array, y: Float32Array): number => {
      let s = 0;
      for (let i = 0; i < n; i++) s += x[i] * y[i];
      return s / n;
    };
    expect(Math.abs(corr(a, b))).toBeLessThan(0.03);
    expect(Math.abs(corr(a, c))).toBeLessThan(0.03);
    expect(a[0]).not.toBe(b[0]);
  });

  it('has mean ≈ 0, std ≈ 1 and normal tails over 1e5 samples', () => {
    const n = 100_000;
    const z = createNoise(42).normal(n);
    let sum = 0;
    let sq = 0;
    let tails = 0;
    for (const v of z) {
      sum += v;
      sq += v * v;
      if (Math.abs(v) > 1.959964) tails++;
    }
    const mean = sum / n;
    const std = Math.sqrt(sq / n - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.01); // 3.2 standard errors
    expect(Math.abs(std - 1)).toBeLessThan(0.01);
    expect(Math.abs(tails / n - 0.05)).toBeLessThan(0.004);
  });

  it('serves as a scheduler noise source', () => {
    const noise = createNoise(5, 1);
    expect(noise.source(16)).toHaveLength(16);
    expect(noise.position).toBe(16);
  });

  it('rejects seeds outside 0..2^32-1', () => {
    expect(() => createNoise(-1)).toThrow(RangeError);
    expect(() => createNoise(2 ** 32)).toThrow(RangeError);
    expect(() => createNoise(1.5)).toThrow(RangeError);
    expect(() => createNoise(2 ** 32 - 1)).not.toThrow();
  });

  it('makes random seeds in range', () => {
    const s = randomSeed();
    expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
  });
});
