import * as ort from 'onnxruntime-node';
import type { TensorInfo } from './component-session';
import { floatToHalf, halfToFloat } from './half-float';

/** float32 → IEEE half bits, round to nearest even; overflow → ±Infinity, NaN kept. */
export function toHalfBits(values: Float32Array): Uint16Array {
  return Uint16Array.from(values, floatToHalf);
}

/** IEEE half bits → float32 (exact). */
export function fromHalfBits(bits: Uint16Array): Float32Array {
  return Float32Array.from(bits, halfToFloat);
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
