import { randomInt } from 'node:crypto';
import type { NoiseSource } from './schedulers/types';

/**
 * Seeded Gaussian noise that is the same on every run, machine, OS and execution provider.
 *
 * Why our own generator: the ONNX Runtime providers have no shared RNG, torch's generators are not
 * available here, and Math.random cannot be seeded. A seed shown in the studio must reproduce the
 * image anywhere, so noise is generated in plain JavaScript from the seed alone.
 *
 * Algorithm (documented so that other implementations can reproduce it):
 * 1. Uniform bits: Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 *    SC'11; the Random123 reference, whose published known-answer vectors the tests check).
 *    Key = [seed, 0]; the counter of block b is [b mod 2³², ⌊b / 2³²⌋, stream, 0]. Each block gives
 *    four 32-bit words w0..w3.
 * 2. Uniforms in the open interval (0, 1): u = (w + 0.5) · 2⁻³².
 * 3. Box–Muller in float64: from (w0, w1) and (w2, w3) of each block,
 *    r = √(−2 ln u_a), z_a = r·cos(2π u_b), z_b = r·sin(2π u_b); so normal k comes from block ⌊k/4⌋,
 *    in the order z(w0,w1), z'(w0,w1), z(w2,w3), z'(w2,w3).
 * 4. Round to float32.
 * The stream of normals does not depend on how it is read: normal(3) then normal(5) equals normal(8).
 * Math.log/cos/sin are V8's fdlibm ports, identical on every platform (not the OS libm).
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9; // golden ratio, Weyl key increment
const W1 = 0xbb67ae85; // sqrt(3) - 1
const TWO_POW_32 = 4294967296;
const INV_2_32 = 1 / TWO_POW_32;
const TWO_PI = 2 * Math.PI;

/** High 32 bits of the 64-bit product of two uint32 (exact, via 16-bit halves). */
function mulhi32(a: number, b: number): number {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const lh = aL * bH;
  const hl = aH * bL;
  const mid = ((aL * bL) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aH * bH + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0;
}

/**
 * Philox-4x32-10 block function: ten rounds of the Random123 philox4x32 round, the key bumped by
 * the Weyl constants between rounds. Writes the four output words into `out`.
 */
export function philox4x32_10(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
  out: Uint32Array = new Uint32Array(4),
): Uint32Array {
  let c0 = counter[0] >>> 0;
  let c1 = counter[1] >>> 0;
  let c2 = counter[2] >>> 0;
  let c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi32(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

export interface GaussianNoise {
  readonly seed: number;
  readonly stream: number;
  /** How many normals have been drawn so far. */
  readonly position: number;
  /** The next n standard normal values (float32) of this stream. */
  normal(n: number): Float32Array;
  /** The same as `normal`, as a scheduler NoiseSource. */
  readonly source: NoiseSource;
}

function checkUint32(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value >= TWO_POW_32) {
    throw new RangeError(`${name} must be an integer in 0..4294967295, got ${value}`);
  }
  return value;
}

/**
 * Standard normal noise for `seed` (0..2³²−1). Different `stream`s of one seed are independent:
 * e.g. stream 0 for the initial latents, stream 1 for the noise a stochastic scheduler injects.
 */
export function createNoise(seed: number, stream = 0): GaussianNoise {
  checkUint32('seed', seed);
  checkUint32('stream', stream);
  const key: [number, number] = [seed, 0];
  const counter: [number, number, number, number] = [0, 0, stream, 0];
  const words = new Uint32Array(4);
  const block = new Float64Array(4);
  let blockIndex = -1;
  let position = 0;

  const fillBlock = (b: number): void => {
    counter[0] = b % TWO_POW_32;
    counter[1] = Math.floor(b / TWO_POW_32);
    philox4x32_10(counter, key, words);
    for (let pair = 0; pair < 2; pair++) {
      const ua = (words[2 * pair] + 0.5) * INV_2_32;
      const ub = (words[2 * pair + 1] + 0.5) * INV_2_32;
      const r = Math.sqrt(-2 * Math.log(ua));
      const angle = TWO_PI * ub;
      block[2 * pair] = r * Math.cos(angle);
      block[2 * pair + 1] = r * Math.sin(angle);
    }
    blockIndex = b;
  };

  const normal = (n: number): Float32Array => {
    if (!Number.isInteger(n) || n < 0)
      throw new RangeError(`n must be a non-negative integer, got ${n}`);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const k = position + i;
      const b = Math.floor(k / 4);
      if (b !== blockIndex) fillBlock(b);
      out[i] = block[k - 4 * b];
    }
    position += n;
    return out;
  };

  return {
    seed,
    stream,
    get position() {
      return position;
    },
    normal,
    source: normal,
  };
}

/** A fresh random seed (0..2³²−1) for runs where the user gave none; report it with the image. */
export function randomSeed(): number {
  return randomInt(0, TWO_POW_32);
}
