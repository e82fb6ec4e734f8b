import type { NodeProto } from 'onnx-buf';
import { attr, makeNode, type OnnxModel } from './onnx-model';
import { MIN_QUANT_ELEMENTS, transpose, type QuantizeReport } from './matmul-nbits';
import { bytesPerElement, DT, dimsOf, elementCount } from './tensor-data';

/**
 * Symmetric int8 per-channel quantization along axis 0 (output channels of a Conv, rows of an
 * embedding table): scale = max|w| / maxCode per channel, zero point 0.
 */
export function quantizeInt8PerChannel(
  w: Float32Array,
  channels: number,
  maxCode = 127,
): { q: Int8Array; scales: Float32Array } {
  const per = w.length / channels;
  const q = new Int8Array(w.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let max = 0;
    for (let i = c * per; i < (c + 1) * per; i++) max = Math.max(max, Math.abs(w[i]));
    const scale = max / maxCode;
    scales[c] = scale;
    const inv = scale === 0 ? 0 : 1 / scale;
    for (let i = c * per; i < (c + 1) * per; i++)
      q[i] = Math.max(-maxCode, Math.min(maxCode, Math.round(w[i] * inv)));
  }
  return { q, scales };
}

const asBytes = (a: ArrayBufferView): Uint8Array =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Conv weights (and embedding tables read by Gather) stored as int8 with a per-channel
 * `DequantizeLinear` in front: the file and the resident weights shrink to about a quarter. ORT
 * runs the dequantization at every inference (it is not constant-folded by default), so whether
 * this costs speed is for the benchmark to say; about 69% of SD 1.5's UNet weights are Conv.
 */
export function quantizeWeightsDq(
  model: OnnxModel,
  minElements = MIN_QUANT_ELEMENTS,
): QuantizeReport {
  const report: QuantizeReport = { quantized: 0, left: [], bytesBefore: 0, bytesAfter: 0 };
  const dqFor = new Map<string, string>();
  const added: NodeProto[] = [];
  for (const node of model.graph.node) {
    if (node.domain !== '') continue;
    const slot = node.opType === 'Conv' ? 1 : node.opType === 'Gather' ? 0 : -1;
    if (slot < 0) continue;
    const name = node.input[slot];
    const t = model.weightTensor(name);
    if (!t) continue;
    const dims = dimsOf(t);
    const label = node.name || node.output[0];
    if (elementCount(dims) < minElements) {
      report.left.push({ node: label, reason: `weight is small (${elementCount(dims)} values)` });
      continue;
    }
    if (node.opType === 'Gather' && dims.length !== 2) {
      report.left.push({ node: label, reason: 'gathered table is not 2-D' });
      continue;
    }
    let dq = dqFor.get(name);
    if (!dq) {
      dq = model.uniqueName(`${name}_dq`);
      const qName = model.uniqueName(`${name}_int8`);
      const sName = model.uniqueName(`${name}_scale`);
      const zName = model.uniqueName(`${name}_zero`);
      const channels = dims[0];
      let cache: { q: Int8Array; scales: Float32Array } | undefined;
      const quantize = (): { q: Int8Array; scales: Float32Array } =>
        (cache ??= quantizeInt8PerChannel(model.reader.floats(t), channels));
      model.setLazyInitializer(qName, DT.INT8, dims, () => asBytes(quantize().q));
      model.setLazyInitializer(sName, DT.FLOAT, [channels], () => {
        const s = quantize().scales;
        cache = undefined;
        return asBytes(s);
      });
      model.setInitializer(zName, DT.INT8, [channels], new Int8Array(channels));
      added.push(
        makeNode('DequantizeLinear', [qName, sName, zName], [dq], `${dq}_node`, [attr('axis', 0)]),
      );
      dqFor.set(name, dq);
      report.bytesBefore += elementCount(dims) * bytesPerElement(t.dataType);
      report.bytesAfter += elementCount(dims) + channels * 5;
    }
    node.input[slot] = dq;
    report.quantized++;
  }
  if (added.length > 0) {
    // DequantizeLinear nodes first: they only read initializers, so topological order holds.
    model.graph.node = [...added, ...model.graph.node];
    model.prune();
  }
  return report;
}

/**
 * ORT's classic dynamic quantization, for comparison: int8 weights per output column, activations
 * quantized to uint8 on the fly (`DynamicQuantizeLinear` → `MatMulInteger` → Cast → Mul by both
 * scales). ORT fuses the chain into `MatMulIntegerToFloat` at the extended graph level.
 */
export function quantizeDynamic(
  model: OnnxModel,
  minElements = MIN_QUANT_ELEMENTS,
): QuantizeReport {
  const report: QuantizeReport = { quantized: 0, left: [], bytesBefore: 0, bytesAfter: 0 };
  const weights = new Map<string, { q: string; zero: string; scale: string }>();
  const replaced = new Map<NodeProto, NodeProto[]>();
  for (const node of model.graph.node) {
    if (node.domain !== '' || node.opType !== 'MatMul') continue;
    const label = node.name || node.output[0];
    const t = model.weightTensor(node.input[1]);
    if (!t || dimsOf(t).length !== 2) {
      report.left.push({ node: label, reason: 'weight is not a constant float32 matrix' });
      continue;
    }
    const [k, n] = dimsOf(t);
    if (k * n < minElements) {
      report.left.push({ node: label, reason: `weight is small (${k * n} values)` });
      continue;
    }
    let w = weights.get(t.name);
    if (!w) {
      w = {
        q: model.uniqueName(`${t.name}_int8`),
        zero: model.uniqueName(`${t.name}_zero`),
        scale: model.uniqueName(`${t.name}_wscale`),
      };
      weights.set(t.name, w);
      let cache: { q: Int8Array; scales: Float32Array } | undefined;
      // Per output column: quantize the transpose row by row, then lay it back out as [K, N].
      const quantize = (): { q: Int8Array; scales: Float32Array } => {
        if (!cache) {
          // 7-bit weights ("reduce_range"): x86 u8×s8 kernels without VNNI add pairs of
          // products in int16 and saturate with full 8-bit weights (measured: 18% error vs 1%).
          const byColumn = quantizeInt8PerChannel(transpose(model.reader.floats(t), k, n), n, 63);
          const q = new Int8Array(k * n);
          for (let c = 0; c < n; c++)
            for (let r = 0; r < k; r++) q[r * n + c] = byColumn.q[c * k + r];
          cache = { q, scales: byColumn.scales };
        }
        return cache;
      };
      model.setLazyInitializer(w.q, DT.INT8, [k, n], () => asBytes(quantize().q));
      model.setLazyInitializer(w.scale, DT.FLOAT, [n], () => {
        const s = quantize().scales;
        cache = undefined;
        return asBytes(s);
      });
      model.setInitializer(w.zero, DT.INT8, [n], new Int8Array(n));
      report.bytesBefore += k * n * bytesPerElement(t.dataType);
      report.bytesAfter += k * n + n * 5;
    }
    const base = model.uniqueName(label.replace(/[^A-Za-z0-9_./-]/g, '_'));
    const [aq, as, az, acc, accF, scale] = ['aq', 'ascale', 'azero', 'int32', 'float', 'scale'].map(
      (s) => `${base}_${s}`,
    );
    replaced.set(node, [
      makeNode('DynamicQuantizeLinear', [node.input[0]], [aq, as, az], `${base}_dql`),
      makeNode('MatMulInteger', [aq, w.q, az, w.zero], [acc], `${base}_mmi`),
      makeNode('Cast', [acc], [accF], `${base}_cast`, [attr('to', DT.FLOAT)]),
      makeNode('Mul', [as, w.scale], [scale], `${base}_scales`),
      makeNode('Mul', [accF, scale], [node.output[0]], `${base}_rescale`),
    ]);
    report.quantized++;
  }
  if (replaced.size > 0) {
    model.graph.node = model.graph.node.flatMap((n) => replaced.get(n) ?? [n]);
    model.prune();
  }
  return report;
}
