import * as ort from 'onnxruntime-node';
import type { TensorInfo } from './component-session';

/*
 * Node 20 has no Float16Array, and onnxruntime-node passes float16 tensors as raw Uint16 bits, so
 * fp16 models (optimum `--dtype fp16` exports, the fp16 recipe's variants) need these conversions
 * at their inputs and outputs. Written here because it is a dozen lines of IEEE 754 bit handling.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE half bits, round to nearest even; overflow → ±Infinity, NaN kept. */
export function toHalfBits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = u32[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let half = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const mid = 1 << (shift - 1);
      if (rem > mid || (rem === mid && half & 1)) half++;
      out[i] = sign | half;
      continue;
    }
    let half = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    // A carry out of the mantissa correctly bumps the exponent (up to Infinity).
    if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
    out[i] = sign | half;
  }
  return out;
}

/** IEEE half bits → float32 (exact). */
export function fromHalfBits(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) out[i] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) out[i] = mant ? NaN : sign * Infinity;
    else out[i] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** A float tensor in the type the session declares for this input (float32 or float16). */
export function floatTensor(
  info: TensorInfo | undefined,
  data: Float32Array,
  dims: readonly number[],
): ort.Tensor {
  if (info?.type === 'float16') return new ort.Tensor('float16', toHalfBits(data), dims);
  return new ort.Tensor('float32', data, dims);
}

/** An output as float32, whatever float type the model produced. */
export function toFloat32(tensor: ort.Tensor): Float32Array {
  if (tensor.type === 'float16') return fromHalfBits(tensor.data as Uint16Array);
  if (tensor.type !== 'float32') throw new Error(`expected a float output, got ${tensor.type}`);
  return tensor.data as Float32Array;
}
