import type { NodeProto, TensorProto } from 'onnx-buf';
import { attr, getAttr, makeNode, type OnnxModel } from './onnx-model';
import { bytesPerElement, DT, dimsOf, elementCount } from './tensor-data';

export interface QuantizeReport {
  quantized: number;
  /** Weights and nodes left in float32, with the reason (small, shape, shared with a non-MatMul…). */
  left: { node: string; reason: string }[];
  /** Bytes of float weights replaced, and of what replaced them. */
  bytesBefore: number;
  bytesAfter: number;
}

export interface NBitsOptions {
  bits: 4 | 8;
  blockSize?: number;
  /** 4 = int8 compute where the CPU has it (AVX2 / AVX-512 VNNI), else dequantize + fp32 GEMM. */
  accuracyLevel?: number;
  /** Weights with fewer elements stay float32: their saving is nothing and their error is not. */
  minElements?: number;
}

export const MIN_QUANT_ELEMENTS = 1024;

/**
 * Block-wise symmetric quantization of a [K, N] weight into MatMulNBits' layout: B is the
 * transpose (one row per output n), packed along K in blocks, 4-bit values two to a byte with the
 * even k in the low nibble; scales are [N, kBlocks]; the zero point is the default 2^(bits-1), so
 * none is stored. Scale = the signed value of largest magnitude / -2^(bits-1), as ORT's own
 * quantizer does, so the extreme maps exactly onto the most negative code.
 */
export function quantizeNBits(
  w: Float32Array,
  k: number,
  n: number,
  bits: 4 | 8,
  blockSize: number,
): { packed: Uint8Array; scales: Float32Array } {
  const kBlocks = Math.ceil(k / blockSize);
  const blobBytes = (blockSize * bits) / 8;
  const packed = new Uint8Array(n * kBlocks * blobBytes);
  const scales = new Float32Array(n * kBlocks);
  const zp = 1 << (bits - 1);
  const qMax = zp - 1;
  const block = new Float32Array(blockSize);
  for (let col = 0; col < n; col++) {
    for (let b = 0; b < kBlocks; b++) {
      let extreme = 0;
      for (let j = 0; j < blockSize; j++) {
        const kk = b * blockSize + j;
        const v = kk < k ? w[kk * n + col] : 0;
        block[j] = v;
        if (Math.abs(v) > Math.abs(extreme)) extreme = v;
      }
      const scale = extreme / -zp;
      scales[col * kBlocks + b] = scale;
      const inv = scale === 0 ? 0 : 1 / scale;
      const base = (col * kBlocks + b) * blobBytes;
      for (let j = 0; j < blockSize; j++) {
        const q = Math.min(qMax, Math.max(-zp, Math.round(block[j] * inv))) + zp;
        if (bits === 8) packed[base + j] = q;
        else if (j % 2 === 0) packed[base + (j >> 1)] = q;
        else packed[base + (j >> 1)] |= q << 4;
      }
    }
  }
  return { packed, scales };
}

/** The float32 weight a MatMulNBits blob stands for, laid out [K, N] like the original. */
export function dequantizeNBits(
  packed: Uint8Array,
  scales: Float32Array,
  k: number,
  n: number,
  bits: 4 | 8,
  blockSize: number,
): Float32Array {
  const kBlocks = Math.ceil(k / blockSize);
  const blobBytes = (blockSize * bits) / 8;
  const zp = 1 << (bits - 1);
  const out = new Float32Array(k * n);
  for (let col = 0; col < n; col++) {
    for (let b = 0; b < kBlocks; b++) {
      const base = (col * kBlocks + b) * blobBytes;
      const s = scales[col * kBlocks + b];
      for (let j = 0; j < blockSize; j++) {
        const kk = b * blockSize + j;
        if (kk >= k) break;
        const byte = bits === 8 ? packed[base + j] : packed[base + (j >> 1)];
        const q = bits === 8 ? byte : j % 2 === 0 ? byte & 0x0f : byte >> 4;
        out[kk * n + col] = (q - zp) * s;
      }
    }
  }
  return out;
}

/** A float32 rank-2 initializer usable as a constant weight, or why not. */
function constantWeight(model: OnnxModel, name: string, minElements: number): TensorProto | string {
  const t = model.weightTensor(name);
  if (!t) return 'weight is computed, not a constant float tensor';
  const dims = dimsOf(t);
  if (dims.length !== 2) return `weight has rank ${dims.length}, not 2`;
  if (elementCount(dims) < minElements) return `weight is small (${elementCount(dims)} values)`;
  return t;
}

/**
 * MatMul (and Gemm with a constant B) → `com.microsoft.MatMulNBits`. The packed weight is made
 * lazily, when the model is written, so a full-size UNet is quantized one tensor at a time.
 */
export function quantizeMatMulNBits(model: OnnxModel, options: NBitsOptions): QuantizeReport {
  const bits = options.bits;
  const blockSize = options.blockSize ?? 32;
  const accuracyLevel = options.accuracyLevel ?? 4;
  const minElements = options.minElements ?? MIN_QUANT_ELEMENTS;
  const report: QuantizeReport = { quantized: 0, left: [], bytesBefore: 0, bytesAfter: 0 };
  // One packed copy per weight, even when several MatMuls share it.
  const packedFor = new Map<string, { b: string; scales: string }>();
  const replaced = new Map<NodeProto, NodeProto[]>();

  for (const node of model.graph.node) {
    if (node.domain !== '' || (node.opType !== 'MatMul' && node.opType !== 'Gemm')) continue;
    const label = node.name || node.output[0];
    let weightName = node.input[1];
    let transposed = false;
    let bias: string | undefined;
    if (node.opType === 'Gemm') {
      const alpha = getAttr(node, 'alpha')?.f ?? 1;
      const beta = getAttr(node, 'beta')?.f ?? 1;
      if (Number(getAttr(node, 'transA')?.i ?? 0n) !== 0 || alpha !== 1 || beta !== 1) {
        report.left.push({ node: label, reason: 'Gemm with transA, alpha or beta' });
        continue;
      }
      transposed = Number(getAttr(node, 'transB')?.i ?? 0n) === 1;
      bias = node.input[2] || undefined;
      weightName = node.input[1];
    }
    const weight = constantWeight(model, weightName, minElements);
    if (typeof weight === 'string') {
      report.left.push({ node: label, reason: weight });
      continue;
    }
    const [d0, d1] = dimsOf(weight);
    const k = transposed ? d1 : d0;
    const n = transposed ? d0 : d1;
    let names = packedFor.get(`${weightName}:${transposed}`);
    if (!names) {
      names = {
        b: model.uniqueName(`${weightName}_q${bits}`),
        scales: model.uniqueName(`${weightName}_scales`),
      };
      packedFor.set(`${weightName}:${transposed}`, names);
      const kBlocks = Math.ceil(k / blockSize);
      // Both lazy tensors come from one quantization; remember the last so it runs once.
      let cache: { packed: Uint8Array; scales: Float32Array } | undefined;
      const quantize = (): { packed: Uint8Array; scales: Float32Array } => {
        if (!cache) {
          const values = model.reader.floats(weight);
          cache = quantizeNBits(
            transposed ? transpose(values, n, k) : values,
            k,
            n,
            bits,
            blockSize,
          );
        }
        return cache;
      };
      model.setLazyInitializer(
        names.b,
        DT.UINT8,
        [n, kBlocks, (blockSize * bits) / 8],
        () => quantize().packed,
      );
      model.setLazyInitializer(names.scales, DT.FLOAT, [n, kBlocks], () => {
        const s = quantize().scales;
        cache = undefined;
        return new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
      });
      report.bytesBefore += k * n * bytesPerElement(weight.dataType);
      report.bytesAfter += n * kBlocks * ((blockSize * bits) / 8 + 4);
    }
    const out = node.output[0];
    const matmulOut = bias ? model.uniqueName(`${out}_nobias`) : out;
    const attrs = [
      attr('K', k),
      attr('N', n),
      attr('bits', bits),
      attr('block_size', blockSize),
      attr('accuracy_level', accuracyLevel),
    ];
    const nodes = [
      makeNode(
        'MatMulNBits',
        [node.input[0], names.b, names.scales],
        [matmulOut],
        `${label}_MatMulNBits`,
        attrs,
        'com.microsoft',
      ),
    ];
    if (bias) nodes.push(makeNode('Add', [matmulOut, bias], [out], `${label}_bias`));
    replaced.set(node, nodes);
    report.quantized++;
  }
  if (replaced.size > 0) {
    model.graph.node = model.graph.node.flatMap((n) => replaced.get(n) ?? [n]);
    model.ensureOpset('com.microsoft', 1);
    model.prune();
  }
  return report;
}

/** [rows, cols] → [cols, rows]. */
export function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}
