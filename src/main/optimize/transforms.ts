import { fuseAttention } from './attention';
import { addCachedFeatureOutput } from './feature-cache';
import { convertToFp16 } from './fp16';
import { quantizeDynamic, quantizeWeightsDq } from './int8-weights';
import { quantizeMatMulNBits } from './matmul-nbits';
import type { OnnxModel } from './onnx-model';
import type { Transform } from './recipes';

/** What one transform did to one component, for the manifest: counts and what it left alone. */
export interface TransformReport {
  transform: Transform;
  /** Nodes fused / weights quantized / initializers converted. */
  changed: number;
  left: { node: string; reason: string }[];
  details: Record<string, number>;
}

/** At most this many "left as is" entries per transform go into the manifest; the count is exact. */
const MAX_LEFT = 50;

/** Applies one in-graph transform (everything but `ort-all`, which ONNX Runtime itself writes). */
export function applyTransform(
  model: OnnxModel,
  transform: Exclude<Transform, 'ort-all'>,
  options: { cacheBranch?: number } = {},
): TransformReport {
  const report = (
    changed: number,
    left: { node: string; reason: string }[],
    details: Record<string, number>,
  ): TransformReport => ({
    transform,
    changed,
    left: left.slice(0, MAX_LEFT),
    details: { ...details, leftCount: left.length },
  });
  switch (transform) {
    case 'lora':
      throw new Error('lora is applied by buildVariant with its LoRA files (lora-merge.ts)');
    case 'attention': {
      const r = fuseAttention(model);
      return report(r.fused, r.left, {
        selfAttention: r.selfAttention,
        crossAttention: r.crossAttention,
      });
    }
    case 'int8-matmul':
    case 'int4-matmul': {
      const r = quantizeMatMulNBits(model, { bits: transform === 'int8-matmul' ? 8 : 4 });
      return report(r.quantized, r.left, { bytesBefore: r.bytesBefore, bytesAfter: r.bytesAfter });
    }
    case 'int8-weights-dq': {
      const r = quantizeWeightsDq(model);
      return report(r.quantized, r.left, { bytesBefore: r.bytesBefore, bytesAfter: r.bytesAfter });
    }
    case 'int8-dynamic': {
      const r = quantizeDynamic(model);
      return report(r.quantized, r.left, { bytesBefore: r.bytesBefore, bytesAfter: r.bytesAfter });
    }
    case 'feature-cache': {
      const r = addCachedFeatureOutput(model, options.cacheBranch ?? 0);
      return report(1, [], {
        skipConcats: r.skips,
        cutFromEnd: r.cutFromEnd,
        stemSkip: r.stem ? 1 : 0,
      });
    }
    case 'fp16':
    case 'fp16-storage': {
      const r = convertToFp16(model, { mode: transform === 'fp16' ? 'compute' : 'storage' });
      return report(r.convertedInitializers, r.keptFloat32, {
        castsInserted: r.castsInserted,
        clamped: r.clamped,
      });
    }
  }
}
